import { writeFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow, ProcessorNode, ProducerNode } from '@vf/core';

/**
 * A burst of small messages: an unpaced synchronous producer → a synchronous relay (`nbTasks`
 * replicas) → a relay → a sink that checks, item by item, that every index arrives once and in
 * order, and writes its verdict at close. The producer outruns the chain, so messages wait for room
 * and leave in batches.
 */
interface Params {
  readonly items: number;
  readonly nbTasks: number;
  readonly out: string;
  /** When set, the producer computes forever (synchronously, never yielding) after this many items. */
  readonly spinAfter?: number;
  /**
   * When set, item `i`'s label is padded with `padChars[i % padChars.length]` euro signs, 3 bytes each
   * in UTF-8 (messages of many sizes; up to 64K characters a string travels inline, in the header).
   */
  readonly padChars?: readonly number[];
}

/** Item `index`'s label: its number, padded as `padChars` says. */
function labelOf(index: number, padChars: readonly number[] | undefined): string {
  const pad = padChars === undefined || padChars.length === 0 ? 0 : (padChars[index % padChars.length] ?? 0);
  return `item ${index}${'€'.repeat(pad)}`;
}

class Burst extends ProducerNode<{ index: number; label: string }> {
  constructor(private readonly params: Params) {
    super({ name: 'burst' });
  }

  *produce() {
    for (let index = 0; index < this.params.items; index++) {
      if (index === this.params.spinAfter) for (;;);
      yield { index, label: labelOf(index, this.params.padChars) };
    }
  }
}

class Relay extends ProcessorNode<[{ index: number; label: string }], { index: number; label: string }> {
  process(item: { index: number; label: string }) {
    return item;
  }
}

class Checker extends ConsumerNode<[{ index: number; label: string }]> {
  #next = 0;
  #received = 0;
  #wrong = 0;

  constructor(
    private readonly out: string,
    private readonly padChars: readonly number[] | undefined,
  ) {
    super({ name: 'checker' });
  }

  consume(item: { index: number; label: string }): void {
    this.#received += 1;
    if (item.index === this.#next && item.label === labelOf(item.index, this.padChars)) this.#next += 1;
    else this.#wrong += 1;
  }

  override close(): void {
    writeFileSync(this.out, JSON.stringify({ received: this.#received, inOrder: this.#next, wrong: this.#wrong }));
  }
}

export default defineFlow((params: Params) => {
  const burst = new Burst(params);
  const first = new Relay({ name: 'first', nbTasks: params.nbTasks }).from(burst);
  const second = new Relay({ name: 'second' }).from(first);
  return new Flow([burst], [new Checker(params.out, params.padChars).from(second)]);
});
