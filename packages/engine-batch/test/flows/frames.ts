import { createHash } from 'node:crypto';
import { defineFlow, Flow, ProducerNode } from '@vf/core';
import { FileAppenderConsumer, IdentityProcessor } from '@vf/core/nodes';

/** Deterministic 1080p RGB frames: every byte depends on the frame index and position. */
export class SyntheticFrames extends ProducerNode<{ index: number; width: number; height: number; data: Uint8Array }> {
  constructor(private readonly count: number) {
    super({ name: 'frames' });
  }

  *produce() {
    for (let index = 0; index < this.count; index++) {
      const data = new Uint8Array(1920 * 1080 * 3);
      for (let i = 0; i < data.length; i += 4093) data[i] = (i + index * 31) & 0xff;
      data[data.length - 1] = index;
      yield { index, width: 1920, height: 1080, data };
    }
  }
}

export default defineFlow((params: { count: number; out: string; nbTasks?: number }) => {
  const frames = new SyntheticFrames(params.count);
  const identity = new IdentityProcessor({ name: 'identity', nbTasks: params.nbTasks ?? 1 }).from(frames);
  const sink = new FileAppenderConsumer<[{ index: number; width: number; height: number; data: Uint8Array }]>(params.out, {
    name: 'sink',
    format: (frame) => {
      const f = frame as { index: number; width: number; height: number; data: Uint8Array };
      return JSON.stringify({
        index: f.index,
        type: f.data.constructor.name,
        bytes: f.data.byteLength,
        sha: createHash('sha256').update(f.data).digest('hex'),
      });
    },
  }).from(identity);
  return new Flow([frames], [sink]);
});
