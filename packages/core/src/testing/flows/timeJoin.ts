import {
  defineFlow,
  Flow,
  type Node,
  ProcessorNode,
  type ProcessorOptions,
  type ProduceContext,
  ProducerNode,
  timestamped,
} from '../../index.js';
import { FileAppenderConsumer, JoinerProcessor } from '../../nodes.js';
import { sleep } from '../../runtime/waiting.js';
import { DelayedIdentity } from './fixtureNodes.js';

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

/** Identity that throws on the slots `fails` picks (its `onError` says what then). */
class Flaky extends ProcessorNode<[number], number> {
  constructor(
    private readonly fails: (slot: number) => boolean,
    options: ProcessorOptions,
  ) {
    super(options);
  }

  process(slot: number): number {
    if (this.fails(slot)) throw new Error(`flaky on slot ${slot}`);
    return slot;
  }
}

/**
 * The white paper's E6: two cameras joined by time into one consumer, which writes each group as a
 * JSON line `[cam1 slot, cam2 slot]` (`null` for a missing camera; arrays of slots with `collect: 'all'`).
 * Between camera 2 and the join: with `relayTasks`, an identity replicated that many times whose
 * replicas finish out of order (`relayDelayMs`); then with `skipEvery`, a node `flaky` that throws
 * on slots `slot % skipEvery === 1` (or, with `skipSlots: [from, to]`, on those slots) with
 * `onError: 'skip'`. `dropEvery: 0`: camera 2 drops nothing.
 * With `diamond`, camera 1 feeds both sides and camera 2 is left out: `'direct'` joins camera 1 with
 * what it feeds (relay, flaky), `'fork'` also puts an identity (`branch`) between camera 1 and the
 * join; `'nested'` joins camera 1 with what it feeds by time first (`inner`, quorum `innerQuorum`,
 * default 1, same tolerance and collect), then `inner` with camera 1.
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
    collect?: 'first' | 'last' | 'all';
    relayTasks?: number;
    relayDelayMs?: number;
    skipEvery?: number;
    skipSlots?: [number, number];
    diamond?: 'direct' | 'fork' | 'nested';
    innerQuorum?: number;
  }) => {
    const slots = params.slots ?? 150;
    const periodMs = params.periodMs ?? 20;
    const paced = params.paced ?? true;
    const cam1 = new Camera(slots, periodMs, paced, undefined, { name: 'cam1' });
    const dropEvery = params.dropEvery ?? 3;
    const cam2 = new Camera(slots, periodMs, paced, dropEvery === 0 ? undefined : dropEvery, { name: 'cam2' });
    let second: Node = params.diamond === undefined ? cam2 : cam1;
    if (params.relayTasks !== undefined) {
      second = new DelayedIdentity(params.relayDelayMs ?? 0, undefined, { name: 'relay', nbTasks: params.relayTasks }).from(second);
    }
    const { skipEvery, skipSlots } = params;
    if (skipEvery !== undefined || skipSlots !== undefined) {
      const fails = (slot: number) =>
        skipSlots === undefined ? slot % (skipEvery as number) === 1 : slot >= skipSlots[0] && slot <= skipSlots[1];
      second = new Flaky(fails, { name: 'flaky', onError: 'skip' }).from(second);
    }
    const join = {
      mode: 'time',
      toleranceMs: params.toleranceMs ?? 12,
      timeoutMs: params.timeoutMs ?? 250,
      quorum: params.quorum ?? 1,
      ...(params.collect === undefined ? {} : { collect: params.collect }),
    } as const;
    const sink = new FileAppenderConsumer(params.out, { name: 'sink', join });
    if (params.diamond === undefined) return new Flow([cam1, cam2], [sink.from(cam1, second)]);
    if (params.diamond === 'nested') {
      const inner = new JoinerProcessor({ name: 'inner', join: { ...join, quorum: params.innerQuorum ?? 1 } }).from(cam1, second);
      return new Flow([cam1], [sink.from(inner, cam1)]);
    }
    const first = params.diamond === 'fork' ? new DelayedIdentity(0, undefined, { name: 'branch' }).from(cam1) : cam1;
    return new Flow([cam1], [sink.from(first, second)]);
  },
);
