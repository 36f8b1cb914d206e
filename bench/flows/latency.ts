import { writeFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow, ProducerNode } from '@vf/core';
import { IdentityProcessor } from '@vf/core/nodes';
import { hostNow } from './hostClock.js';

/**
 * Per-hop latency (Videoflow 2026 white paper, E3): `count` items paced at `fps` through a chain
 * of `hops` identity processors. Each item carries its send time (the host's monotonic clock, which
 * every task reads alike); the sink records, per item, how long it took.
 * `warmup` items at the same pace go first, unrecorded: the steady state of a long-running flow.
 */
interface Params {
  readonly count: number;
  readonly warmup?: number;
  readonly fps: number;
  readonly hops: number;
  readonly out: string;
}

class Stamper extends ProducerNode<{ index: number; sentAt: number }> {
  constructor(
    private readonly count: number,
    fps: number,
  ) {
    super({ name: 'camera', fps });
  }

  *produce() {
    for (let index = 0; index < this.count; index++) yield { index, sentAt: hostNow() };
  }
}

/** Writes `{ latenciesMs }` at close. */
class LatencySink extends ConsumerNode<[{ index: number; sentAt: number }]> {
  readonly #latencies: number[] = [];

  constructor(
    private readonly out: string,
    private readonly warmup: number,
  ) {
    super({ name: 'sink' });
  }

  consume(item: { index: number; sentAt: number }): void {
    const latency = hostNow() - item.sentAt;
    if (item.index >= this.warmup) this.#latencies.push(latency);
  }

  override close(): void {
    writeFileSync(this.out, JSON.stringify({ latenciesMs: this.#latencies }));
  }
}

export default defineFlow((params: Params) => {
  const warmup = params.warmup ?? 0;
  const camera = new Stamper(warmup + params.count, params.fps);
  let last: Stamper | IdentityProcessor = camera;
  for (let index = 0; index < params.hops; index++) last = new IdentityProcessor({ name: `hop${index}` }).from(last);
  return new Flow([camera], [new LatencySink(params.out, warmup).from(last)]);
});
