import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer, SumAggregator } from '@vf/core/nodes';

/** A replicated identity whose every task emits the same process warning when it opens. */
class Noisy extends ProcessorNode<[number], number> {
  override open(): void {
    process.emitWarning('a replica of "noisy" opened', { code: 'VF_TEST_NOISY' });
  }

  process(value: number): number {
    return value;
  }
}

/**
 * numbers → noisy (3 replicas, each warns on open) → sum (a one-task processor given nbTasks 4,
 * which vf warns about wherever the flow module is loaded: the host and all 6 tasks) → file.
 */
export default defineFlow((params: { out: string }) => {
  const numbers = new IntProducer(0, 20, { name: 'numbers' });
  const noisy = new Noisy({ name: 'noisy', nbTasks: 3 }).from(numbers);
  const sum = new SumAggregator({ name: 'sum', nbTasks: 4 }).from(noisy);
  return new Flow([numbers], [new FileAppenderConsumer(params.out, { name: 'sink' }).from(sum)]);
});
