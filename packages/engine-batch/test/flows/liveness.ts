import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineFlow, Flow, ProcessorNode, ProducerNode } from '@vf/core';
import { FileAppenderConsumer } from '@vf/core/nodes';

interface Params {
  /** Items produced: 0, 1, ... items - 1. */
  readonly items: number;
  /** Pause between items, in ms (keeps the flow running while a test acts on it). */
  readonly intervalMs: number;
  /** When set, the producer waits after its 10th item until this file exists, then goes on. */
  readonly goFile?: string;
  /** When set, the worker computes synchronously (never yielding) for `busyMs` on item `busyAt`. */
  readonly busyAt?: number;
  readonly busyMs?: number;
  /**
   * When set, the worker leaves behind, on item `stuckAt`, a timer whose callback never returns:
   * the event loop is stuck outside any call into the node (the runtime looks livelocked).
   */
  readonly stuckAt?: number;
  readonly out: string;
}

/** Counts up at a steady pace; may hold after item 10 until the test says go. */
class Counter extends ProducerNode<number> {
  constructor(private readonly params: Params) {
    super({ name: 'counter' });
  }

  async *produce({ signal }: { signal: AbortSignal }) {
    for (let index = 0; index < this.params.items && !signal.aborted; index++) {
      if (index === 10 && this.params.goFile !== undefined) {
        while (!existsSync(this.params.goFile) && !signal.aborted) await sleep(10);
      }
      yield index;
      if (this.params.intervalMs > 0) await sleep(this.params.intervalMs);
    }
  }
}

/** Passes items on; on item `busyAt` it spins synchronously for `busyMs` (a long, legitimate computation). */
class Worker extends ProcessorNode<[number], number> {
  constructor(private readonly params: Params) {
    super({ name: 'worker' });
  }

  process(value: number): number {
    if (value === this.params.stuckAt)
      setTimeout(() => {
        for (;;);
      }, 0);
    if (value === this.params.busyAt) {
      const until = Date.now() + (this.params.busyMs ?? 0);
      while (Date.now() < until);
    }
    return value;
  }
}

/** counter → worker → sink (appends each item to `out`). */
export default defineFlow((params: Params) => {
  const counter = new Counter(params);
  const worker = new Worker(params).from(counter);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(worker);
  return new Flow([counter], [sink]);
});
