import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { CommandlineConsumer, IntProducer, JoinerProcessor, SumAggregator } from '@vf/core/nodes';

/** Multiplies the two numbers of an aligned pair. */
class Product extends ProcessorNode<[[number, number]], number> {
  process([a, b]: [number, number]): number {
    return a * b;
  }
}

export default defineFlow((params: { end: number }) => {
  const left = new IntProducer(0, params.end, { name: 'left' });
  const right = new IntProducer(0, params.end, { name: 'right' });
  const pairs = new JoinerProcessor<[number, number]>({ name: 'pair' }).from(left, right);
  const squares = new Product({ name: 'square', nbTasks: 2 }).from(pairs);
  const total = new SumAggregator({ name: 'sum of squares' }).from(squares);
  const printer = new CommandlineConsumer<[number, number]>({
    name: 'printer',
    format: (square, sum) => `square ${String(square).padStart(6)}   running sum ${sum}`,
  }).from(squares, total);
  return new Flow([left, right], [printer]);
});
