import type { Node } from '../nodes/node.js';

/** An origin join of two parents whose `seq`s count different things (see {@link unrelatedOriginJoins}). */
export interface UnrelatedOriginJoin {
  readonly node: Node;
  /** The parent whose `seq`s count the groups of `timeJoin`. */
  readonly grouped: Node;
  /** The other parent: its `seq`s count items of a stream that `timeJoin` also reads. */
  readonly other: Node;
  readonly timeJoin: Node;
}

/**
 * The joins by origin (several parents, no time join) that pair unrelated items: one parent's
 * `seq`s count the groups of a time join (a time join starts a new origin), the other's count the
 * items of a stream that feeds that time join too. Their k-th messages have nothing to do with each
 * other, and both streams come from one node: when the time join groups several items into one, the
 * other parent runs ahead, fills its queue and holds that node back, which the time join waits for.
 * Batch engines then wait until `stop()`. `order`: the flow's nodes, parents first.
 */
export function unrelatedOriginJoins(order: readonly Node[]): UnrelatedOriginJoin[] {
  // Where each node's `seq`s come from: producers and time joins start origins; others pass theirs on.
  const origins = new Map<Node, ReadonlySet<Node>>();
  const ancestors = new Map<Node, ReadonlySet<Node>>();
  const found: UnrelatedOriginJoin[] = [];
  for (const node of order) {
    const above = new Set<Node>();
    for (const parent of node.parents) {
      above.add(parent);
      for (const ancestor of ancestors.get(parent) ?? []) above.add(ancestor);
    }
    ancestors.set(node, above);
    const startsOrigin = node.parents.length === 0 || node.timeJoin !== undefined;
    origins.set(node, startsOrigin ? new Set([node]) : new Set(node.parents.flatMap((parent) => [...(origins.get(parent) ?? [])])));
    if (startsOrigin || node.parents.length < 2) continue;
    const unrelated = firstUnrelatedPair(node, origins, ancestors);
    if (unrelated !== undefined) found.push(unrelated);
  }
  return found;
}

/** The first pair of `node`'s parents (in wiring order) whose `seq`s are unrelated, if any. */
function firstUnrelatedPair(
  node: Node,
  origins: ReadonlyMap<Node, ReadonlySet<Node>>,
  ancestors: ReadonlyMap<Node, ReadonlySet<Node>>,
): UnrelatedOriginJoin | undefined {
  for (const grouped of node.parents) {
    for (const other of node.parents) {
      if (other === grouped) continue;
      const otherOrigins = origins.get(other) ?? new Set<Node>();
      const reach = new Set([other, ...(ancestors.get(other) ?? [])]);
      for (const timeJoin of origins.get(grouped) ?? []) {
        if (timeJoin.timeJoin === undefined || otherOrigins.has(timeJoin)) continue;
        if ([...(ancestors.get(timeJoin) ?? [])].some((feeder) => reach.has(feeder))) return { node, grouped, other, timeJoin };
      }
    }
  }
  return undefined;
}
