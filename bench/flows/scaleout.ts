import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerNode, defineFlow, Flow, ProcessorNode, ProducerNode } from '@vf/core';

/**
 * The scale-out experiment (Videoflow 2026 white paper, E2): a producer → a stage that sleeps
 * `workMs` per item, with `nbTasks` replicas → a sink. The producer records when it starts, the
 * sink when the last item arrives; the benchmark divides the time at one replica by the time at n.
 */
interface Params {
  readonly count: number;
  readonly workMs: number;
  readonly nbTasks: number;
  readonly out: string;
}

class Items extends ProducerNode<number> {
  constructor(private readonly params: Params) {
    super({ name: 'items' });
  }

  *produce() {
    writeFileSync(`${this.params.out}.start`, String(performance.timeOrigin + performance.now()));
    for (let index = 0; index < this.params.count; index++) yield index;
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
    this.#last = performance.timeOrigin + performance.now();
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
