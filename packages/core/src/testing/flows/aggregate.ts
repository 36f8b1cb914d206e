import { defineFlow, Flow } from '../../index.js';
import { FileAppenderConsumer, IntProducer, SumAggregator } from '../../nodes.js';

/** 0..end → running sum (one task, even if more are asked for) → file. */
export default defineFlow((params: { end: number; out: string }) => {
  const numbers = new IntProducer(0, params.end, { name: 'numbers' });
  const sum = new SumAggregator({ name: 'sum', nbTasks: 3 }).from(numbers);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(sum);
  return new Flow([numbers], [sink]);
});
