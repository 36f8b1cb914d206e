import { appendFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow, ProcessorNode } from '@vf/core';
import { IntProducer, JoinerProcessor, SumAggregator } from '@vf/core/nodes';

class Product extends ProcessorNode<[[number, number]], number> {
  process([a, b]: [number, number]): number {
    return a * b;
  }
}

/** Appends synchronously and has nothing to close: its task closes its sockets right after the last end. */
class SyncLineWriter extends ConsumerNode<[number, number]> {
  readonly #path: string;

  constructor(path: string) {
    super({ name: 'sink' });
    this.#path = path;
  }

  consume(square: number, sum: number): void {
    appendFileSync(this.#path, `${JSON.stringify([square, sum])}\n`);
  }
}

/**
 * Two producers joined, multiplied by 2 replicas, summed, and a sink fed by both the products and
 * the sum: the sink ends three streams at once, the shape that once lost an end acknowledgement
 * (the sink closed its socket before the acknowledgement left) and left the sum waiting forever.
 */
export default defineFlow((params: { end: number; out: string }) => {
  const left = new IntProducer(0, params.end, { name: 'left' });
  const right = new IntProducer(0, params.end, { name: 'right' });
  const pairs = new JoinerProcessor<[number, number]>({ name: 'pair' }).from(left, right);
  const square = new Product({ name: 'square', nbTasks: 2 }).from(pairs);
  const total = new SumAggregator({ name: 'total' }).from(square);
  const sink = new SyncLineWriter(params.out).from(square, total);
  return new Flow([left, right], [sink]);
});
