import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerNode, defineFlow, Flow, ProcessorNode, ProducerNode } from '@vf/core';
import { hostNow } from './hostClock.js';

/**
 * The scale-out experiment (Videoflow 2026 white paper, E2): a producer → a stage that sleeps
 * `workMs` per item, with `nbTasks` replicas → a sink. The producer records when it starts, the
 * sink when the last item arrives (on the host's clock, written at close: the files' writes are not
 * timed); the benchmark divides the time at one replica by the time at n.
 */
interface Params {
  readonly count: number;
  readonly workMs: number;
  readonly nbTasks: number;
  readonly out: string;
}

class Items extends ProducerNode<number> {
  #started = 0;

  constructor(private readonly params: Params) {
    super({ name: 'items' });
  }

  *produce() {
    this.#started = hostNow();
    for (let index = 0; index < this.params.count; index++) yield index;
  }

  override close(): void {
    writeFileSync(`${this.params.out}.start`, String(this.#started));
  }
}

class Stage extends ProcessorNode<[number], number> {
  constructor(private readonly params: Params) {
    super({ name: 'stage', nbTasks: params.nbTasks });
  }

  async process(value: number): Promise<number> {
    await sleep(this.params.workMs);
    return value;
  }
}

class Sink extends ConsumerNode<[number]> {
  #count = 0;
  #last = 0;

  constructor(private readonly out: string) {
    super({ name: 'sink' });
  }

  consume(): void {
    this.#count += 1;
    this.#last = hostNow();
  }

  override close(): void {
    writeFileSync(this.out, JSON.stringify({ count: this.#count, last: this.#last }));
  }
}

export default defineFlow((params: Params) => {
  const items = new Items(params);
  const stage = new Stage(params).from(items);
  return new Flow([items], [new Sink(params.out).from(stage)]);
});
