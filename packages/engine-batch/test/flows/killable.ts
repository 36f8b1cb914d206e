import { appendFileSync } from 'node:fs';
import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';

/** Records its pid on open, then works slowly, so the test can SIGKILL it mid-run. */
class Victim extends ProcessorNode<[number], number> {
  constructor(private readonly pidFile: string) {
    super({ name: 'victim' });
  }

  override open(): void {
    appendFileSync(this.pidFile, `${process.pid}\n`);
  }

  async process(value: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return value;
  }
}

export default defineFlow((params: { pidFile: string; out: string }) => {
  const numbers = new IntProducer(0, 1_000_000, { name: 'numbers' });
  const victim = new Victim(params.pidFile).from(numbers);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(victim);
  return new Flow([numbers], [sink]);
});
