import { defineFlow, Flow, type ProduceContext, ProducerNode, timestamped } from '@vf/core';
import { FileAppenderConsumer } from '@vf/core/nodes';

/**
 * A live camera at `1000 / periodMs` fps that loses every `dropEvery`-th frame. `stamp`: each frame
 * carries its event time on the timeline both cameras share (`slot × periodMs`); otherwise it is
 * grouped by its capture time (`createdAt`, when the producer emitted it). It films from the
 * moment the flow starts: a task is ready only once its children admitted it, so no frame waits in
 * a handshake (where realtime would keep only the freshest).
 */
class LiveCamera extends ProducerNode<number> {
  constructor(
    private readonly params: { slots: number; periodMs: number; stamp: boolean; dropEvery?: number },
    options: { name: string },
  ) {
    super(options);
  }

  async *produce({ signal }: ProduceContext) {
    const { slots, periodMs, stamp, dropEvery } = this.params;
    const start = performance.now();
    for (let slot = 0; slot < slots && !signal.aborted; slot++) {
      const wait = start + slot * periodMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (dropEvery !== undefined && slot % dropEvery === dropEvery - 1) continue;
      yield stamp ? timestamped(slot, slot * periodMs) : slot;
    }
  }
}

/** E6: two live cameras joined by time into a consumer that writes `[cam1 slot, cam2 slot]` lines (`null`: missing). */
export default defineFlow(
  (params: { out: string; stamp: boolean; slots: number; periodMs: number; toleranceMs: number; timeoutMs: number }) => {
    const { slots, periodMs, stamp } = params;
    const cam1 = new LiveCamera({ slots, periodMs, stamp }, { name: 'cam1' });
    const cam2 = new LiveCamera({ slots, periodMs, stamp, dropEvery: 3 }, { name: 'cam2' });
    const sink = new FileAppenderConsumer(params.out, {
      name: 'sink',
      join: { mode: 'time', toleranceMs: params.toleranceMs, timeoutMs: params.timeoutMs, quorum: 1 },
    }).from(cam1, cam2);
    return new Flow([cam1, cam2], [sink]);
  },
);
