import { describeValue, FlowValidationError } from '../errors.js';
import { lazySchema } from '../lazyZod.js';

/** Which item a parent contributes when several of its items fall in one window (see {@link TimeJoinOptions.collect}). */
export type JoinCollect = 'first' | 'last' | 'all';

/**
 * A time-synchronized join (Videoflow 2026's `JoinPolicy(mode='time')`): the node's parents are
 * grouped by **event time** instead of by origin. An item's event time is the `timestamp` its
 * producer stamped ({@link timestamped}), else its capture time (`createdAt`). A group opens at the
 * earliest pending event time `t` and holds, from each parent, its items in `[t, t + toleranceMs]`.
 * A group in which every parent has an item is released at once (complete); a group that cannot
 * grow any more (every missing parent has sent a later item or ended, or, on realtime, `timeoutMs`
 * of wall time passed since its first item arrived) is released with `undefined` for the missing
 * parents when at least `quorum` parents are present (partial), and dropped otherwise.
 *
 * @example
 * ```ts
 * new Fuse({ join: { mode: 'time', toleranceMs: 12, timeoutMs: 250, quorum: 1 } }).from(cam1, cam2);
 * ```
 */
export interface TimeJoinOptions {
  readonly mode: 'time';
  /** Widest spread of event times inside one group, in ms (inclusive). */
  readonly toleranceMs: number;
  /**
   * Realtime engines only: the longest a group waits for its missing parents, in wall-clock ms
   * from the arrival of its first item. Default 1000. Batch engines (and `InProcessEngine`) close
   * groups on event time alone, which makes them deterministic.
   */
  readonly timeoutMs?: number;
  /** Parents that must be present for a partial group to be released. Default: all of them (only complete groups). */
  readonly quorum?: number;
  /**
   * When a parent has several items in one window: `'first'` (default) takes its earliest, the
   * others stay for the next groups; `'last'` takes its latest and drops the earlier ones; `'all'`
   * gives an array of them (in event-time order).
   */
  readonly collect?: JoinCollect;
}

/** A checked {@link TimeJoinOptions} with its defaults filled in (except `quorum`, known once wired). */
export interface TimeJoinSpec {
  readonly mode: 'time';
  readonly toleranceMs: number;
  readonly timeoutMs: number;
  /** Undefined: every parent. */
  readonly quorum?: number;
  readonly collect: JoinCollect;
}

/** Default of {@link TimeJoinOptions.timeoutMs}. */
export const DEFAULT_JOIN_TIMEOUT_MS = 1000;

const MAX_TIMER_MS = 2 ** 31 - 1;

const REQUIREMENTS: Readonly<Record<string, string>> = {
  mode: "must be 'time'",
  toleranceMs: 'must be a finite number of ms ≥ 0',
  timeoutMs: `must be a number of ms from 0 to ${MAX_TIMER_MS}`,
  quorum: 'must be a positive integer, at most the number of parents',
  collect: "must be 'first', 'last' or 'all'",
};

const timeJoinSchema = lazySchema((z) =>
  z.strictObject({
    mode: z.literal('time'),
    toleranceMs: z.number().min(0).finite(),
    timeoutMs: z.number().min(0).max(MAX_TIMER_MS).default(DEFAULT_JOIN_TIMEOUT_MS),
    quorum: z.int().min(1).optional(),
    collect: z.enum(['first', 'last', 'all']).default('first'),
  }),
);

/**
 * Checks a node's `join` option; returns the spec, or undefined when none was given. Throws
 * `FlowValidationError` `INVALID_OPTION` naming the node and the field (`details: { node, option, value }`).
 */
export function validateJoinOptions(value: unknown, nodeName: string, nbTasks: number): TimeJoinSpec | undefined {
  if (value === undefined) return undefined;
  const fail = (option: string, requirement: string, got: unknown): never => {
    throw new FlowValidationError('INVALID_OPTION', `node "${nodeName}": ${option} ${requirement}, got ${describeValue(got)}`, {
      details: { node: nodeName, option, value: describeValue(got) },
    });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('join', "must be an object such as { mode: 'time', toleranceMs }", value);
  const result = timeJoinSchema().safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    // An unknown key is reported with an empty path and the key in `keys`.
    const field = String(issue?.path[0] ?? (issue as { keys?: string[] } | undefined)?.keys?.[0] ?? '');
    const requirement = REQUIREMENTS[field] ?? 'is not a time-join option (mode, toleranceMs, timeoutMs, quorum, collect)';
    fail(`join.${field}`, requirement, (value as Record<string, unknown>)[field]);
  }
  if (nbTasks !== 1) {
    // A group's items must meet in one task, and windows depend on the data: no origin to route by.
    fail('join', 'cannot be combined with nbTasks > 1 (a time join runs as one task: its groups are state); use nbTasks: 1', nbTasks);
  }
  return result.data as TimeJoinSpec;
}

/**
 * Checks a time join against the parents it was wired to: at least two, and a quorum no larger
 * than their number. Throws `INVALID_OPTION` naming the node.
 */
export function checkJoinWiring(spec: TimeJoinSpec | undefined, nodeName: string, parentCount: number): void {
  if (spec === undefined) return;
  if (parentCount < 2) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `node "${nodeName}": join needs at least two parents, got ${parentCount}; remove the join option or wire more parents`,
      { details: { node: nodeName, option: 'join', value: parentCount } },
    );
  }
  if (spec.quorum !== undefined && spec.quorum > parentCount) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `node "${nodeName}": join.quorum ${REQUIREMENTS.quorum} (${parentCount}), got ${spec.quorum}`,
      { details: { node: nodeName, option: 'join.quorum', value: spec.quorum } },
    );
  }
}
