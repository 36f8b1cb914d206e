import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerNode, defineFlow, Flow, ProducerNode } from '@vf/core';
import { IdentityProcessor } from '@vf/core/nodes';

const FRAME_BYTES = 1920 * 1080 * 3;

/** The bytes of frame `index` (every frame differs). */
export function frameData(index: number): Uint8Array {
  const data = new Uint8Array(FRAME_BYTES);
  for (let i = 0; i < data.length; i += 1021) data[i] = (i + index * 31) & 0xff;
  data[data.length - 1] = index & 0xff;
  return data;
}

/** An unpaced camera of `count` 1080p frames. */
class Camera extends ProducerNode<{ index: number; data: Uint8Array }> {
  constructor(private readonly count: number) {
    super({ name: 'camera' });
  }

  *produce() {
    for (let index = 0; index < this.count; index++) yield { index, data: frameData(index) };
  }
}

/** A sink slower than the camera: most frames are dropped on the way. Records index and hash. */
class SlowSink extends ConsumerNode<[{ index: number; data: Uint8Array }]> {
  constructor(
    private readonly out: string,
    private readonly workMs: number,
  ) {
    super({ name: 'sink' });
  }

  async consume(frame: { index: number; data: Uint8Array }): Promise<void> {
    appendFileSync(this.out, `${JSON.stringify({ index: frame.index, sha: createHash('sha256').update(frame.data).digest('hex') })}\n`);
    await sleep(this.workMs);
  }
}

/** camera → sink, or camera → relay (an identity) → sink with `relay`. */
export default defineFlow((params: { count: number; workMs: number; out: string; relay?: boolean }) => {
  const camera = new Camera(params.count);
  const relay = params.relay === true ? new IdentityProcessor<{ index: number; data: Uint8Array }>({ name: 'relay' }).from(camera) : camera;
  const sink = new SlowSink(params.out, params.workMs).from(relay);
  return new Flow([camera], [sink]);
});
