import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerNode, defineFlow, Flow, type MessageMetadata, ProcessorNode } from '@vf/core';
import { IntProducer } from '@vf/core/nodes';

/**
 * The overload experiment (Videoflow 2026 white paper, E4): a camera at `fps` into a processor
 * that takes `workMs` per item (slower than the camera), into a consumer that records, per item,
 * the end-to-end latency from the camera's timestamp.
 */
interface Params {
  readonly count: number;
  readonly fps: number;
  readonly workMs: number;
  readonly out: string;
}

class FixedCost extends ProcessorNode<[number], number> {
  constructor(private readonly workMs: number) {
    super({ name: 'detect' });
  }

  async process(value: number): Promise<number> {
    await sleep(this.workMs);
    return value;
  }
}

/** Writes `{ latenciesMs, first, last }` (epoch ms) at close; the benchmark computes rates and percentiles. */
class LatencyRecorder extends ConsumerNode<[MessageMetadata]> {
  readonly #latencies: number[] = [];
  #first = 0;
  #last = 0;

  constructor(private readonly out: string) {
    super({ name: 'sink', metadata: true });
  }

  consume(meta: MessageMetadata): void {
    const now = Date.now();
    if (this.#latencies.length === 0) this.#first = now;
    this.#last = now;
    this.#latencies.push(now - meta.createdAt);
  }

  override close(): void {
    writeFileSync(this.out, JSON.stringify({ latenciesMs: this.#latencies, first: this.#first, last: this.#last }));
  }
}

export default defineFlow((params: Params) => {
  const camera = new IntProducer(0, params.count - 1, { name: 'camera', fps: params.fps });
  const detect = new FixedCost(params.workMs).from(camera);
  const sink = new LatencyRecorder(params.out).from(detect);
  return new Flow([camera], [sink]);
});
