import { defineFlow, Flow } from '../../index.js';
import { FileAppenderConsumer, IntProducer } from '../../nodes.js';
import { DelayedIdentity } from './fixtureNodes.js';

/** producer → identity (nbTasks replicas, optional jitter) → file. */
export default defineFlow((params: { end: number; out: string; nbTasks?: number; maxDelayMs?: number }) => {
  const numbers = new IntProducer(0, params.end, { name: 'numbers' });
  const identity = new DelayedIdentity(params.maxDelayMs ?? 0, undefined, { name: 'identity', nbTasks: params.nbTasks ?? 1 }).from(numbers);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(identity);
  return new Flow([numbers], [sink]);
});
