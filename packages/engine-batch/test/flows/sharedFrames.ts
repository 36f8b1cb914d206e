import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { defineFlow, Flow, ProcessorNode, ProducerNode } from '@vf/core';
import { FileAppenderConsumer, IdentityProcessor } from '@vf/core/nodes';

/** A 1080p RGB frame with a second view on its buffer, as the shared-memory tests send it. */
export interface Frame {
  readonly index: number;
  readonly data: Uint8Array;
  /** A view on `data`'s buffer at byte 1024: must still share it after the trip. */
  readonly plane: Float32Array;
}

export const FRAME_BYTES = 1920 * 1080 * 3;

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The bytes of frame `index`: every frame differs, and so do its pages. */
export function frameData(index: number): Uint8Array {
  const data = new Uint8Array(FRAME_BYTES);
  for (let i = 0; i < data.length; i += 1021) data[i] = (i + index * 31) & 0xff;
  data[data.length - 1] = index & 0xff;
  return data;
}

/** The hash a receiver must see for frame `index`, untouched or after {@link Mutator}. */
export const expectedSha = (index: number, mutated = false) => sha(mutated ? new Uint8Array(FRAME_BYTES).fill(0xee) : frameData(index));

/** Makes `count` frames; after each send, checks that its own frame did not change (`changed` file). */
class Frames extends ProducerNode<Frame> {
  constructor(
    private readonly count: number,
    private readonly changed: string,
  ) {
    super({ name: 'frames' });
  }

  *produce() {
    for (let index = 0; index < this.count; index++) {
      const data = frameData(index);
      const before = sha(data);
      yield { index, data, plane: new Float32Array(data.buffer, 1024, 256) };
      if (sha(data) !== before) appendFileSync(this.changed, `${index}\n`);
    }
  }
}

/** Overwrites every byte of the frame it received, in place, and passes it on. */
class Mutator extends ProcessorNode<[Frame], Frame> {
  constructor() {
    super({ name: 'mutator' });
  }

  process(frame: Frame): Frame {
    frame.data.fill(0xee);
    return frame;
  }
}

/** Records its pid on open and works slowly, so that a test can SIGKILL it holding frames. */
class SlowWorker extends ProcessorNode<[Frame], Frame> {
  constructor(
    private readonly pidFile: string,
    private readonly workMs: number,
    nbTasks: number,
    private readonly copy: boolean,
  ) {
    super({ name: 'worker', nbTasks });
  }

  override open(): void {
    appendFileSync(this.pidFile, `${process.pid}\n`);
  }

  async process(frame: Frame): Promise<Frame> {
    await new Promise((resolve) => setTimeout(resolve, this.workMs));
    if (!this.copy) return frame;
    // A frame of its own: it goes out through this task's pool of segments.
    const data = new Uint8Array(frame.data);
    return { index: frame.index, data, plane: new Float32Array(data.buffer, 1024, 256) };
  }
}

/** One line per frame: what the receiver got. */
const describeFrame = (frame: unknown) => {
  const { index, data, plane } = frame as Frame;
  return JSON.stringify({
    index,
    type: data.constructor.name,
    bytes: data.byteLength,
    sha: sha(data),
    planeShares: plane.buffer === data.buffer && plane.byteOffset - data.byteOffset === 1024 && plane.length === 256,
  });
};

interface Params {
  readonly mode: 'fanOut' | 'replicas' | 'chain';
  readonly count: number;
  /** Output files: `${out}.a` and `${out}.b` (fanOut), `${out}.a` (replicas); `${out}.changed` if the sender saw its frame change. */
  readonly out: string;
  readonly pidFile?: string;
  readonly workMs?: number;
  readonly nbTasks?: number;
  /** replicas: each worker sends a copy of its frame (through a pool of its own) rather than the frame it received. */
  readonly copy?: boolean;
  /** chain: the identity feeds a second consumer `b` too (one frame, two children). */
  readonly twoChildren?: boolean;
}

/**
 * fanOut: frames → mutator → a, and frames → identity → b (b must see the frames untouched).
 * replicas: frames → worker (nbTasks, slow) → a.
 * chain: frames → forward (an identity, nbTasks) → a (and → b with twoChildren).
 */
export default defineFlow((params: Params) => {
  const frames = new Frames(params.count, `${params.out}.changed`);
  if (params.mode === 'fanOut') {
    const mutated = new Mutator().from(frames);
    const untouched = new IdentityProcessor<Frame>({ name: 'untouched' }).from(frames);
    const a = new FileAppenderConsumer<[Frame]>(`${params.out}.a`, { name: 'a', format: describeFrame }).from(mutated);
    const b = new FileAppenderConsumer<[Frame]>(`${params.out}.b`, { name: 'b', format: describeFrame }).from(untouched);
    return new Flow([frames], [a, b]);
  }
  if (params.mode === 'chain') {
    const forward = new IdentityProcessor<Frame>({ name: 'forward', nbTasks: params.nbTasks ?? 1 }).from(frames);
    const a = new FileAppenderConsumer<[Frame]>(`${params.out}.a`, { name: 'a', format: describeFrame }).from(forward);
    if (params.twoChildren !== true) return new Flow([frames], [a]);
    const b = new FileAppenderConsumer<[Frame]>(`${params.out}.b`, { name: 'b', format: describeFrame }).from(forward);
    return new Flow([frames], [a, b]);
  }
  const worker = new SlowWorker(
    params.pidFile ?? `${params.out}.pids`,
    params.workMs ?? 20,
    params.nbTasks ?? 2,
    params.copy === true,
  ).from(frames);
  const a = new FileAppenderConsumer<[Frame]>(`${params.out}.a`, { name: 'a', format: describeFrame }).from(worker);
  return new Flow([frames], [a]);
});
