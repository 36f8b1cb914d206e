import { appendFileSync } from 'node:fs';
import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';

/**
 * A worker that fails on every 100th item (`value % 100 === 99`) and records its pid on open, so
 * a test can SIGKILL a replica that has stored dead letters, or find where it ran.
 */
class Worker extends ProcessorNode<[number], number> {
  constructor(
    private readonly pidFile: string,
    private readonly workMs: number,
    options: { nbTasks: number; deadLetter: string },
  ) {
    super({ name: 'worker', nbTasks: options.nbTasks, onError: { retries: 1, backoffMs: 1, deadLetter: options.deadLetter } });
  }

  override open(): void {
    appendFileSync(this.pidFile, `${process.pid}\n`);
  }

  async process(value: number): Promise<number> {
    if (this.workMs > 0) await new Promise((resolve) => setTimeout(resolve, this.workMs));
    if (value % 100 === 99) throw new Error(`bad item ${value}`);
    return value;
  }
}

/** numbers → worker (replicated, dead-lettering) → sink. */
export default defineFlow(
  (params: { items: number; workMs: number; nbTasks: number; pidFile: string; out: string; deadLetter: string }) => {
    const numbers = new IntProducer(0, params.items - 1, { name: 'numbers' });
    const worker = new Worker(params.pidFile, params.workMs, params).from(numbers);
    const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(worker);
    return new Flow([numbers], [sink]);
  },
);
