import { defineFlow, Flow } from '../../index.js';
import { FileAppenderConsumer, IntProducer, JoinerProcessor } from '../../nodes.js';
import { Affine } from './fixtureNodes.js';

/** producer → (double, shift) → joiner → file: every joined pair must come from one origin. */
export default defineFlow((params: { end: number; out: string }) => {
  const numbers = new IntProducer(0, params.end, { name: 'numbers' });
  const double = new Affine(2, 0, { name: 'double' }).from(numbers);
  const shift = new Affine(1, 1000, { name: 'shift', nbTasks: 2 }).from(numbers);
  const join = new JoinerProcessor({ name: 'join' }).from(double, shift);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(join);
  return new Flow([numbers], [sink]);
});
