import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer, SumAggregator } from '@vf/core/nodes';

class Square extends ProcessorNode<[number], number> {
  process(value: number): number {
    return value * value;
  }
}

/** 1..n → square (nbTasks replicas) → running sum → one line per item in `out`. */
export default defineFlow((params: { n: number; out: string; nbTasks: number }) => {
  const numbers = new IntProducer(1, params.n, { name: 'numbers' });
  const squares = new Square({ name: 'square', nbTasks: params.nbTasks }).from(numbers);
  const sum = new SumAggregator({ name: 'sum' }).from(squares);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(sum);
  return new Flow([numbers], [sink]);
});
