import { appendFileSync } from 'node:fs';
import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';

/** The node placed on the "remote" machine: records its pid on open, may work slowly, and says hello on stdout. */
class Relay extends ProcessorNode<[number], number> {
  constructor(
    private readonly pidFile: string,
    private readonly delayMs: number,
  ) {
    super({ name: 'relay' });
  }

  override open(): void {
    appendFileSync(this.pidFile, `${process.pid}\n`);
    // A remote task's stdout carries its control channel: user output must not corrupt it.
    console.log('relay open: this line goes to stderr, not to the control channel');
  }

  async process(value: number): Promise<number> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return value;
  }
}

export default defineFlow((params: { count: number; out: string; pidFile: string; delayMs?: number }) => {
  const numbers = new IntProducer(0, params.count - 1, { name: 'numbers' });
  const relay = new Relay(params.pidFile, params.delayMs ?? 0).from(numbers);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(relay);
  return new Flow([numbers], [sink]);
});
