import { appendFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow, ProducerNode } from '@vf/core';
import { EdgeDetector, type RgbFrame } from '../../src/index.js';

type Frame = RgbFrame & { readonly index: number };

/** `count` deterministic RGB frames of `width`×`height`. */
export class PatternFrames extends ProducerNode<Frame> {
  constructor(
    private readonly count: number,
    private readonly width: number,
    private readonly height: number,
  ) {
    super({ name: 'frames' });
  }

  *produce(): Iterable<Frame> {
    for (let index = 0; index < this.count; index++) {
      const data = new Uint8Array(this.width * this.height * 3);
      for (let i = 0; i < data.length; i++) data[i] = ((i % 97) * (index + 3) + (i >> 8) * 13) & 0xff;
      yield { index, width: this.width, height: this.height, data };
    }
  }
}

/** Appends `{ index, sum }` of each edge frame to `out`. */
class EdgeSums extends ConsumerNode<[Frame]> {
  constructor(private readonly out: string) {
    super({ name: 'sums' });
  }

  consume(frame: Frame): void {
    appendFileSync(this.out, `${JSON.stringify({ index: frame.index, sum: frame.data.reduce((total, value) => total + value, 0) })}\n`);
  }
}

/** frames → EdgeDetector (GPU node, `nbTasks`) → sums; each detector task appends its TensorFlow.js choice to `log`. */
export default defineFlow((params: { out: string; log: string; nbTasks: number; count: number; width: number; height: number }) => {
  const frames = new PatternFrames(params.count, params.width, params.height);
  const edges = new EdgeDetector<Frame>({
    name: 'edges',
    nbTasks: params.nbTasks,
    onTensorflow: ({ package: name, backend, reason, skipped }) =>
      appendFileSync(
        params.log,
        `${JSON.stringify({ cuda: process.env.CUDA_VISIBLE_DEVICES, package: name, backend, reason, skipped })}\n`,
      ),
  }).from(frames);
  return new Flow([frames], [new EdgeSums(params.out).from(edges)]);
});
