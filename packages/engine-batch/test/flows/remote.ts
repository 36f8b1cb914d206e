import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';

/**
 * The node placed on the "remote" machine: records its pid on open, may work slowly, says hello on
 * stdout, and with `spinAt` hangs in synchronous code at that item (deaf to its stdin closing).
 */
class Relay extends ProcessorNode<[number], number> {
  constructor(
    private readonly pidFile: string,
    private readonly delayMs: number,
    private readonly spinAt: number | undefined,
    private readonly echo: { readonly at: number; readonly line: string } | undefined,
  ) {
    super({ name: 'relay' });
  }

  override open(): void {
    appendFileSync(this.pidFile, `${process.pid}\n`);
    // A remote task's stdout carries its control channel: user output must not corrupt it.
    console.log('relay open: this line goes to stderr, not to the control channel');
  }

  async process(value: number): Promise<number> {
    if (value === this.spinAt) for (;;);
    // A child process with the task's stdio, as ffmpeg or a shell command run that way: it writes to
    // the real stdout, the control channel, where the task's own writes never go.
    if (value === this.echo?.at) execFileSync('echo', [this.echo.line], { stdio: 'inherit' });
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return value;
  }
}

export default defineFlow(
  (params: { count: number; out: string; pidFile: string; delayMs?: number; spinAt?: number; echo?: { at: number; line: string } }) => {
    const numbers = new IntProducer(0, params.count - 1, { name: 'numbers' });
    const relay = new Relay(params.pidFile, params.delayMs ?? 0, params.spinAt, params.echo).from(numbers);
    const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(relay);
    return new Flow([numbers], [sink]);
  },
);
