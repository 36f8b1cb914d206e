import { registerValueType } from '../wire/valueTypes.js';

const SKIPPED_BRAND = Symbol.for('vf.SkippedItem');

/**
 * The marker a node publishes in place of an output it gave up on (`onError`: skipped or
 * dead-lettered). It takes the item's place in the stream (same `seq` and `ticket`), so that the
 * nodes downstream do not wait for an origin that will never come: a replica's in-order release, a
 * routed replica's share, a join. The task runtime consumes it — user code never sees it: a
 * processor passes it on, a join drops the other inputs of that origin (a time join, which has no
 * origins to match, takes it as that parent's absence from the group), a consumer counts it.
 * A time join also sends one in place of a group it drops below its quorum ({@link groupDropped}).
 * It travels as an ordinary value (a registered value type), so every transport carries it
 * unchanged, with the same credits and ordering as data.
 */
export class SkippedItem {
  /** A brand rather than `instanceof`: two copies of `@vf/core` in one process (source and build) share the registered type. */
  readonly [SKIPPED_BRAND] = true;

  /**
   * @param node the node that gave up on the item
   * @param deadLettered whether that node stored it as a dead letter (else it skipped it)
   * @param groupDropped a time join dropped the group below its quorum (batch, InProcess): nothing
   *   was given up, nothing is counted as failed; the marker only says how far in event time the
   *   join has got, so that a time join below it does not wait for a group that will never come
   */
  constructor(
    readonly node: string,
    readonly deadLettered: boolean,
    readonly groupDropped = false,
  ) {}
}

registerValueType({
  name: 'vf:SkippedItem',
  type: SkippedItem,
  encode: (item) => [item.node, item.deadLettered, item.groupDropped],
  decode: ([node, deadLettered, groupDropped]: [string, boolean, boolean]) => new SkippedItem(node, deadLettered, groupDropped),
});

/** True for the marker of an item given up upstream. */
export function isSkippedItem(value: unknown): value is SkippedItem {
  return typeof value === 'object' && value !== null && (value as { [SKIPPED_BRAND]?: unknown })[SKIPPED_BRAND] === true;
}
