import { defineFlow, Flow } from '../../index.js';
import { FileAppenderConsumer, IntProducer } from '../../nodes.js';
import { DelayedIdentity, Exploder } from './fixtureNodes.js';

/** A node that throws on one item, with a long stream behind it and a closing identity after it. */
export default defineFlow(
  (params: { out: string; failAt: number; closeLog: string; shape?: 'error' | 'numericMessage' | 'oddDetails' | 'systemError' }) => {
    const numbers = new IntProducer(0, 1_000_000, { name: 'numbers' });
    const exploder = new Exploder(params.failAt, { name: 'exploder' }, params.shape).from(numbers);
    const after = new DelayedIdentity(0, params.closeLog, { name: 'after' }).from(exploder);
    const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(after);
    return new Flow([numbers], [sink]);
  },
);
