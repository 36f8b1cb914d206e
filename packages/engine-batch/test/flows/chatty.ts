import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';

/** A replicated identity whose every task prints a line and emits the same warning when it opens. */
class Talker extends ProcessorNode<[number], number> {
  override open(): void {
    console.error('talker opened');
    process.emitWarning('a talker opened', { code: 'VF_TEST_CHATTY' });
  }

  process(value: number): number {
    return value;
  }
}

/** numbers → talker (2 replicas) → file. */
export default defineFlow((params: { out: string }) => {
  const numbers = new IntProducer(0, 9, { name: 'numbers' });
  const talker = new Talker({ name: 'talker', nbTasks: 2 }).from(numbers);
  return new Flow([numbers], [new FileAppenderConsumer(params.out, { name: 'sink' }).from(talker)]);
});
