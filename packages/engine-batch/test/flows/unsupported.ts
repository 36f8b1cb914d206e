import { defineFlow, Flow } from '@vf/core';
import { IdentityProcessor, IntProducer, VoidConsumer } from '@vf/core/nodes';

/** A replicated node fed by a replicated node: rejected by multi-process engines before anything starts. */
export default defineFlow(() => {
  const numbers = new IntProducer(0, 10);
  const first = new IdentityProcessor({ name: 'first', nbTasks: 2 }).from(numbers);
  const second = new IdentityProcessor({ name: 'second', nbTasks: 2 }).from(first);
  return new Flow([numbers], [new VoidConsumer().from(second)]);
});
