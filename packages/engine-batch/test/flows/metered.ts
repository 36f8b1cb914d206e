import { defineFlow, Flow, FunctionProcessorNode } from '@vf/core';
import { IntProducer, VoidConsumer } from '@vf/core/nodes';

/** numbers → work (2 replicas, `workMs` per item) → sink: a run long enough to be scraped while it runs. */
export default defineFlow((params: { items: number; workMs: number }) => {
  const numbers = new IntProducer(1, params.items, { name: 'numbers' });
  const work = new FunctionProcessorNode(
    async (value: number) => {
      await new Promise((resolve) => setTimeout(resolve, params.workMs));
      return value;
    },
    { name: 'work', nbTasks: 2 },
  ).from(numbers);
  return new Flow([numbers], [new VoidConsumer({ name: 'sink' }).from(work)]);
});
