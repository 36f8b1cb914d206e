import { defineFlow, Flow, FunctionProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';

/** numbers → square (a function, nbTasks replicas) and a join of both by another function → file. */
export default defineFlow((params: { end: number; out: string; nbTasks: number; offset: number }) => {
  const numbers = new IntProducer(0, params.end, { name: 'numbers' });
  const square = new FunctionProcessorNode(
    async (value: number) => {
      // Replicas finish out of order: the engine must put the outputs back in order.
      await new Promise((resolve) => setTimeout(resolve, (value * 7) % 4));
      return value * value;
    },
    { name: 'square', nbTasks: params.nbTasks },
  ).from(numbers);
  // A closure over params: each task process rebuilds it from the flow module.
  const describe = new FunctionProcessorNode((value: number, squared: number) => `${value + params.offset}:${squared}`, {
    name: 'describe',
  }).from(numbers, square);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(describe);
  return new Flow([numbers], [sink]);
});
