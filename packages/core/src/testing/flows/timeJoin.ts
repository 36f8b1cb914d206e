import { defineFlow, Flow, type ProduceContext, ProducerNode, timestamped } from '../../index.js';
import { FileAppenderConsumer } from '../../nodes.js';
import { sleep } from '../../runtime/waiting.js';

/**
 * A camera: one frame slot every `periodMs` (paced in wall time when `paced`), each stamped with its
 * event time `slot × periodMs` on a timeline both cameras share; with `dropEvery: n` it loses every
 * n-th frame (slots n-1, 2n-1, ...), as a camera that drops frames does. The value is the slot.
 */
class Camera extends ProducerNode<number> {
  constructor(
    private readonly slots: number,
    private readonly periodMs: number,
    private readonly paced: boolean,
    private readonly dropEvery: number | undefined,
    options: { name: string },
  ) {
    super(options);
  }

  async *produce(ctx: ProduceContext) {
    const start = performance.now();
    for (let slot = 0; slot < this.slots; slot++) {
      if (this.paced) await sleep(start + slot * this.periodMs - performance.now(), ctx.signal);
      if (ctx.signal.aborted) return;
      if (this.dropEvery !== undefined && slot % this.dropEvery === this.dropEvery - 1) continue;
      yield timestamped(slot, slot * this.periodMs);
    }
  }
}

/**
 * The white paper's E6: two cameras joined by time into one consumer, which writes each group as a
 * JSON line `[cam1 slot, cam2 slot]` (`null` for a missing camera).
 */
export default defineFlow(
  (params: {
    out: string;
    slots?: number;
    periodMs?: number;
    paced?: boolean;
    dropEvery?: number;
    toleranceMs?: number;
    timeoutMs?: number;
    quorum?: number;
  }) => {
    const slots = params.slots ?? 150;
    const periodMs = params.periodMs ?? 20;
    const paced = params.paced ?? true;
    const cam1 = new Camera(slots, periodMs, paced, undefined, { name: 'cam1' });
    const cam2 = new Camera(slots, periodMs, paced, params.dropEvery ?? 3, { name: 'cam2' });
    const sink = new FileAppenderConsumer(params.out, {
      name: 'sink',
      join: { mode: 'time', toleranceMs: params.toleranceMs ?? 12, timeoutMs: params.timeoutMs ?? 250, quorum: params.quorum ?? 1 },
    }).from(cam1, cam2);
    return new Flow([cam1, cam2], [sink]);
  },
);
