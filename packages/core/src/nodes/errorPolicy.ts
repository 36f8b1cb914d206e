import { describeValue, FlowValidationError } from '../errors.js';
import { lazySchema } from '../lazyZod.js';

/**
 * What a processor or consumer does when `process()` / `consume()` throws on an item.
 * - `'fail'` (default): the flow fails, as without the option.
 * - `'skip'`: the item is dropped, counted in the report (`failed`), and the stream goes on.
 * - `{ retries, backoffMs, deadLetter }`: the call runs again on the same input, in the same task,
 *   up to `retries` more times (default 0), waiting `backoffMs × 2^(n-1)` before the n-th retry
 *   (default 100 ms, each wait capped at {@link MAX_BACKOFF_MS}). When the last attempt fails the
 *   item is dropped as with `'skip'` and, with `deadLetter`, stored in that folder (see
 *   `readDeadLetters`). The realtime engine never retries (freshness first): a failing item is
 *   dropped at once (and dead-lettered when asked).
 *
 * A dropped item is absent downstream: its origin is skipped by every node after it (a join drops
 * the other branches' outputs of that origin, counted), and the batch order of the rest is kept.
 */
export type OnError = 'fail' | 'skip' | OnErrorRetry;

/** The object form of {@link OnError}. */
export interface OnErrorRetry {
  /** More attempts after the first failure, in the same task. Default 0; at most {@link MAX_RETRIES}. */
  readonly retries?: number;
  /** Wait before the first retry, in ms; doubles before each further retry. Default 100. */
  readonly backoffMs?: number;
  /**
   * Folder that receives the items still failing after the last retry: JSON lines plus raw frames,
   * one pair of files per task (format in docs/api.md, read back with `readDeadLetters`). A relative
   * path resolves against each task's working directory (and on each task's own host): give an
   * absolute one. Without it, the item is dropped and counted only.
   */
  readonly deadLetter?: string | { readonly dir: string };
}

/** The most retries one item may get: more hides a broken node rather than a transient fault. */
export const MAX_RETRIES = 100;
/** The longest wait between two attempts, in ms. */
export const MAX_BACKOFF_MS = 60_000;
const DEFAULT_BACKOFF_MS = 100;

/** {@link OnError} resolved: what the task runtime applies. */
export interface ErrorPolicy {
  /** `fail`: rethrow (the flow fails). `drop`: after the retries, drop the item and go on. */
  readonly mode: 'fail' | 'drop';
  readonly retries: number;
  readonly backoffMs: number;
  /** Dead-letter folder, when the user named one. */
  readonly deadLetterDir?: string;
}

/** The default policy: the first error fails the flow. */
export const FAIL_POLICY: ErrorPolicy = Object.freeze({ mode: 'fail', retries: 0, backoffMs: 0 });

/** Wait before retry number `retry` (1-based): exponential, capped. */
export function backoffDelay(policy: ErrorPolicy, retry: number): number {
  return Math.min(policy.backoffMs * 2 ** (retry - 1), MAX_BACKOFF_MS);
}

const retrySchema = lazySchema((z) => {
  const folder = z.string().refine((dir) => dir.trim() !== '', 'must be a non-empty folder path');
  return z.strictObject({
    retries: z.int().min(0).max(MAX_RETRIES).optional(),
    backoffMs: z.number().min(0).max(MAX_BACKOFF_MS).optional(),
    deadLetter: z.union([folder, z.strictObject({ dir: folder })]).optional(),
  });
});

const REQUIREMENTS: Readonly<Record<string, string>> = {
  retries: `must be an integer from 0 to ${MAX_RETRIES}`,
  backoffMs: `must be a number of ms from 0 to ${MAX_BACKOFF_MS}`,
  deadLetter: 'must be a folder path (a non-empty string) or { dir: <folder path> }',
};

/**
 * Checks the `onError` option of a node (`nodeLabel`, e.g. `processor "decode"`) and resolves it;
 * throws `FlowValidationError` `INVALID_OPTION` naming the node, the field and what it must be.
 */
export function resolveOnError(value: unknown, nodeLabel: string): ErrorPolicy {
  if (value === undefined || value === 'fail') return FAIL_POLICY;
  if (value === 'skip') return { mode: 'drop', retries: 0, backoffMs: 0 };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(nodeLabel, 'onError', "must be 'fail', 'skip' or { retries?, backoffMs?, deadLetter? }", value);
  }
  const result = retrySchema().safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = String(issue?.path[0] ?? (issue?.code === 'unrecognized_keys' ? issue.keys[0] : ''));
    const requirement = REQUIREMENTS[field] ?? 'is not an option of onError (it takes retries, backoffMs, deadLetter)';
    throw invalid(nodeLabel, `onError.${field}`, requirement, (value as Record<string, unknown>)[field]);
  }
  const { retries = 0, backoffMs = DEFAULT_BACKOFF_MS, deadLetter } = result.data;
  const deadLetterDir = typeof deadLetter === 'string' ? deadLetter : deadLetter?.dir;
  return { mode: 'drop', retries, backoffMs, ...(deadLetterDir === undefined ? {} : { deadLetterDir }) };
}

/** Refuses `onError` on a producer: a throwing `next()` leaves its iterator finished or in an unknown state. */
export function rejectOnError(value: unknown, nodeLabel: string): void {
  if (value === undefined || value === 'fail') return;
  throw invalid(
    nodeLabel,
    'onError',
    "is not supported on producers: an iterator that threw cannot be resumed or retried safely; catch the error inside produce() and skip the item there (only 'fail' is accepted)",
    value,
  );
}

function invalid(nodeLabel: string, option: string, requirement: string, value: unknown): FlowValidationError {
  const shown = describeValue(value);
  return new FlowValidationError('INVALID_OPTION', `${nodeLabel}: ${option} ${requirement}, got ${shown}`, {
    details: { option, value: shown },
  });
}
