import { defineFlow, Flow } from '../../index.js';
import { FileAppenderConsumer, IdentityProcessor, IntProducer } from '../../nodes.js';
import { Affine } from './fixtureNodes.js';

/** One branch ends in a consumer; the other is a processor with no consumer behind it (`danglingTasks` replicas, default 1). */
export default defineFlow((params: { end: number; out: string; danglingTasks?: number }) => {
  const numbers = new IntProducer(0, params.end, { name: 'numbers' });
  const kept = new IdentityProcessor({ name: 'kept' }).from(numbers);
  new Affine(3, 0, { name: 'dangling', nbTasks: params.danglingTasks ?? 1 }).from(numbers);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(kept);
  return new Flow([numbers], [sink]);
});
