import { VfError } from '../errors.js';

const TIMESTAMPED = Symbol.for('vf.timestamped');

/** An item a producer yields with its event time (see {@link timestamped}). */
export interface Timestamped<T> {
  readonly [TIMESTAMPED]: true;
  readonly value: T;
  readonly timestamp: number;
}

/**
 * Stamps an item with its event time, for time-synchronized joins (`join: { mode: 'time' }`). A
 * producer yields `timestamped(frame, ms)`: its children receive `frame`, and the message's
 * metadata carries `timestamp: ms` (passed on by processors: a processor's output carries the
 * earliest of its inputs'). Use one time scale for every producer that a join groups, e.g. epoch ms
 * from a shared clock, or a recording's own timeline. Unstamped items are grouped by `createdAt`,
 * the epoch ms at which the producer emitted them.
 *
 * @example
 * ```ts
 * async *produce() { for (const frame of camera) yield timestamped(frame.pixels, frame.ptsMs); }
 * ```
 */
export function timestamped<T>(value: T, timestamp: number): Timestamped<T> {
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    throw new VfError(
      'INVALID_TIMESTAMP',
      `timestamped(): timestamp must be a finite number of ms, got ${String(timestamp)}; stamp each item with its event time`,
      {
        details: { value: String(timestamp) },
      },
    );
  }
  return { [TIMESTAMPED]: true, value, timestamp };
}

/** True for what {@link timestamped} returns. */
export function isTimestamped(item: unknown): item is Timestamped<unknown> {
  return typeof item === 'object' && item !== null && (item as { [TIMESTAMPED]?: unknown })[TIMESTAMPED] === true;
}
