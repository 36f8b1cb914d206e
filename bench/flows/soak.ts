import { appendFileSync, writeFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow, ProcessorNode, ProducerNode } from '@vf/core';

interface Params {
  readonly count: number;
  /** Tasks of the middle node: with more than one, order is restored after the replicas. */
  readonly nbTasks: number;
  /** Per-item work of the middle node, in ms (0: none). */
  readonly workMs: number;
  /** Where the middle node's replicas write their pids (so a benchmark can SIGKILL one). */
  readonly pidFile?: string;
  readonly out: string;
}

class Numbers extends ProducerNode<{ index: number; label: string }> {
  constructor(private readonly count: number) {
    super({ name: 'numbers' });
  }

  *produce() {
    for (let index = 0; index < this.count; index++) yield { index, label: 'car' };
  }
}

class Worker extends ProcessorNode<[{ index: number; label: string }], { index: number; label: string }> {
  constructor(private readonly params: Params) {
    super({ name: 'worker', nbTasks: params.nbTasks });
  }

  override open(): void {
    if (this.params.pidFile !== undefined) appendFileSync(this.params.pidFile, `${process.pid}\n`);
  }

  async process(item: { index: number; label: string }) {
    if (this.params.workMs > 0) await new Promise((resolve) => setTimeout(resolve, this.params.workMs));
    return item;
  }
}

/**
 * Checks the stream as it arrives: every index exactly once, in order. Counts what is missing,
 * duplicated or out of order instead of trusting totals, and records the first and last arrival.
 */
class Checker extends ConsumerNode<[{ index: number }]> {
  #next = 0;
  #received = 0;
  #duplicated = 0;
  #outOfOrder = 0;
  #first = 0;
  #last = 0;
  readonly #seen = new Set<number>();

  constructor(private readonly out: string) {
    super({ name: 'checker' });
  }

  consume(item: { index: number }): void {
    const now = performance.timeOrigin + performance.now();
    if (this.#received === 0) this.#first = now;
    this.#last = now;
    this.#received += 1;
    if (item.index === this.#next) {
      this.#next += 1;
      return;
    }
    // Off the expected sequence: remember enough to tell a duplicate from a reordering.
    if (item.index < this.#next || this.#seen.has(item.index)) this.#duplicated += 1;
    else this.#outOfOrder += 1;
    this.#seen.add(item.index);
  }

  override close(): void {
    writeFileSync(
      this.out,
      JSON.stringify({
        received: this.#received,
        inOrder: this.#next,
        duplicated: this.#duplicated,
        outOfOrder: this.#outOfOrder,
        first: this.#first,
        last: this.#last,
      }),
    );
  }
}

/** numbers → worker (nbTasks) → checker: the soak and re-dispatch benchmarks. */
export default defineFlow((params: Params) => {
  const numbers = new Numbers(params.count);
  const worker = new Worker(params).from(numbers);
  const checker = new Checker(params.out).from(worker);
  return new Flow([numbers], [checker]);
});
