import type { JoinCollect } from '../nodes/joinOptions.js';
import { seeded } from './seededRandom.js';

/** A node of a {@link RandomFlowSpec}; `from` names earlier nodes by index (the producers come first). */
export type RandomNodeSpec =
  /** An identity over `tasks` replicas that skips (`onError: 'skip'`) the values whose hash `% skipEvery` is 0. */
  | { readonly kind: 'relay'; readonly from: number; readonly tasks: number; readonly skipEvery?: number }
  /** A join by origin of two nodes of one origin (e.g. a camera and what a relay made of it). */
  | { readonly kind: 'zip'; readonly from: readonly number[]; readonly tasks: number }
  /** A join by event time. */
  | {
      readonly kind: 'time';
      readonly from: readonly number[];
      readonly toleranceMs: number;
      readonly quorum: number;
      readonly collect: JoinCollect;
    };

/**
 * A flow drawn at random ({@link randomFlowSpec}), built by the `randomFlow` fixture: stamped
 * producers (value `[producer, slot]`, event time `slot × periodMs`, unpaced), then `nodes`, then a
 * sink that writes each input as a JSON line, joined by origin or by time when it has two parents.
 */
export interface RandomFlowSpec {
  readonly producers: readonly { readonly length: number; readonly periodMs: number }[];
  readonly nodes: readonly RandomNodeSpec[];
  readonly sink: { readonly from: readonly number[]; readonly join?: 'origin' | 'time'; readonly toleranceMs?: number };
}

/**
 * Draws flow number `seed` (the same flow for the same seed): 1–3 producers of 15–40 slots, 10, 20
 * or 30 ms apart; 2–5 nodes (relays of 1–3 tasks, some skipping; joins by origin of two nodes of
 * one origin, 1–2 tasks; joins by time of 2–3 nodes, any quorum and collect); a sink on the last
 * node and maybe one more.
 *
 * It keeps to flows whose output the contract fixes on batch engines: a time join's tolerance is
 * below the producers' shortest period, so no window holds two items of one parent and a full edge
 * never changes a group; joins by origin only pair nodes of one origin (pairing a time join's
 * groups with another stream is warned against: `VF_JOIN_UNRELATED_ORIGINS`).
 */
export function randomFlowSpec(seed: number): RandomFlowSpec {
  const random = seeded(seed * 7919 + 13);
  const pick = (n: number) => Math.floor(random() * n);
  const choose = <T>(items: readonly T[]): T => items[pick(items.length)] as T;
  const producers = Array.from({ length: 1 + pick(3) }, () => ({ length: 15 + pick(26), periodMs: choose([10, 20, 30]) }));
  const shortest = Math.min(...producers.map((producer) => producer.periodMs));
  // Per node: where its seqs come from (a producer, or a time join, which starts a new origin).
  const origins: string[] = producers.map((_producer, index) => `p${index}`);
  const nodes: RandomNodeSpec[] = [];
  /** `count` different nodes drawn among those made so far (fewer when there are fewer). */
  const someNodes = (count: number): number[] => {
    const all = Array.from({ length: origins.length }, (_, index) => index);
    const taken: number[] = [];
    for (let left = Math.min(count, all.length); left > 0; left--) taken.push(...all.splice(pick(all.length), 1));
    return taken;
  };
  for (let count = 2 + pick(4); nodes.length < count; ) {
    const kind = pick(10);
    if (kind < 4) {
      const from = pick(origins.length);
      nodes.push({ kind: 'relay', from, tasks: 1 + pick(3), ...(random() < 0.5 ? { skipEvery: 3 + pick(5) } : {}) });
      origins.push(origins[from] as string);
      continue;
    }
    if (kind < 7) {
      const first = pick(origins.length);
      const mates = origins.flatMap((origin, index) => (index !== first && origin === origins[first] ? [index] : []));
      if (mates.length === 0) continue;
      nodes.push({ kind: 'zip', from: [first, choose(mates)], tasks: 1 + pick(2) });
      origins.push(origins[first] as string);
      continue;
    }
    if (origins.length < 2) continue;
    const from = someNodes(2 + pick(2));
    // Drawn in this order: a seed names the same flow as before.
    const toleranceMs = pick(shortest);
    const quorum = 1 + pick(from.length);
    nodes.push({ kind: 'time', from, toleranceMs, quorum, collect: choose(['first', 'last', 'all'] as const) });
    origins.push(`t${origins.length}`);
  }
  const last = origins.length - 1;
  const other = pick(last);
  if (random() < 0.4) return { producers, nodes, sink: { from: [last] } };
  if (origins[other] === origins[last] && random() < 0.5) return { producers, nodes, sink: { from: [last, other], join: 'origin' } };
  return { producers, nodes, sink: { from: [last, other], join: 'time', toleranceMs: pick(shortest) } };
}

/**
 * Random flow 141 with windows wider than the queue (a wide-window exploration found it): two time
 * joins hold back each other's producer. `n5` holds `p1`'s room while it waits for `n4`, which waits
 * through `n3` for `p2`, which `n6` holds back while it waits for `p1`. With `queueSize` 1, 2 or 4
 * every task then waits: it completes only where the engine breaks deadlocks of bounded queues. Its
 * sink gets `n6`'s 12 groups (`p2`'s slot k with `p1`'s slot 3k, while `p1` lasts).
 */
export const CROSSED_TIME_JOINS: RandomFlowSpec = {
  producers: [
    { length: 24, periodMs: 20 },
    { length: 36, periodMs: 10 },
    { length: 30, periodMs: 30 },
  ],
  nodes: [
    { kind: 'time', from: [0, 2], toleranceMs: 0, quorum: 2, collect: 'all' },
    { kind: 'time', from: [3, 0], toleranceMs: 69, quorum: 2, collect: 'all' },
    { kind: 'time', from: [1, 4], toleranceMs: 7, quorum: 2, collect: 'all' },
    { kind: 'time', from: [2, 1], toleranceMs: 3, quorum: 2, collect: 'all' },
  ],
  sink: { from: [6] },
};

/**
 * Two producers of different periods (10 and 30 ms) joined both by origin (`n2`, which keeps them
 * in step by count) and by time (`n3`, in step by event time), and the two joins joined by time:
 * the two rules drift apart with every item, so the flow needs more room as it goes, whatever the
 * `queueSize`. It completes only where the engine breaks deadlocks of bounded queues.
 */
export const DRIFTING_JOINS: RandomFlowSpec = {
  producers: [
    { length: 60, periodMs: 10 },
    { length: 60, periodMs: 30 },
  ],
  nodes: [
    { kind: 'zip', from: [0, 1], tasks: 1 },
    { kind: 'time', from: [0, 1], toleranceMs: 5, quorum: 2, collect: 'first' },
  ],
  sink: { from: [2, 3], join: 'time', toleranceMs: 5 },
};

/** One line that says what flow `spec` is, e.g. `p0 30×20ms; n1 = relay(p0) ×2 skip%4; sink(n1)`. */
export function describeRandomFlow(spec: RandomFlowSpec): string {
  const name = (index: number) => (index < spec.producers.length ? `p${index}` : `n${index}`);
  const producers = spec.producers.map(({ length, periodMs }, index) => `p${index} ${length}×${periodMs}ms`);
  const nodes = spec.nodes.map((node, offset) => {
    const own = name(spec.producers.length + offset);
    if (node.kind === 'relay') {
      const skip = node.skipEvery === undefined ? '' : ` skip%${node.skipEvery}`;
      return `${own} = relay(${name(node.from)}) ×${node.tasks}${skip}`;
    }
    const parents = node.from.map(name).join(', ');
    if (node.kind === 'zip') return `${own} = zip(${parents}) ×${node.tasks}`;
    return `${own} = time(${parents}) ±${node.toleranceMs}ms quorum ${node.quorum} ${node.collect}`;
  });
  const { sink } = spec;
  const how = sink.join === undefined ? '' : sink.join === 'time' ? ` by time ±${sink.toleranceMs ?? 0}ms` : ' by origin';
  return [...producers, ...nodes, `sink(${sink.from.map(name).join(', ')})${how}`].join('; ');
}
