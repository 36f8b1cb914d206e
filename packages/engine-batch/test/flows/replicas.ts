import { appendFileSync } from 'node:fs';
import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';

/** A replicated worker that records each replica's pid on open, so a test can SIGKILL one mid-run. */
class Worker extends ProcessorNode<[number], number> {
  constructor(
    private readonly pidFile: string,
    private readonly workMs: number,
    nbTasks: number,
  ) {
    super({ name: 'worker', nbTasks });
  }

  override open(): void {
    appendFileSync(this.pidFile, `${process.pid}\n`);
  }

  async process(value: number): Promise<number> {
    if (this.workMs > 0) await new Promise((resolve) => setTimeout(resolve, this.workMs));
    return value * 2;
  }
}

/** numbers → worker (replicated) → two sinks: every item must reach both exactly once, in order. */
export default defineFlow((params: { items: number; workMs: number; nbTasks: number; pidFile: string; outA: string; outB: string }) => {
  const numbers = new IntProducer(0, params.items - 1, { name: 'numbers' });
  const worker = new Worker(params.pidFile, params.workMs, params.nbTasks).from(numbers);
  const sinkA = new FileAppenderConsumer(params.outA, { name: 'sinkA' }).from(worker);
  const sinkB = new FileAppenderConsumer(params.outB, { name: 'sinkB' }).from(worker);
  return new Flow([numbers], [sinkA, sinkB]);
});
