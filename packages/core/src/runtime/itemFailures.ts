import type { EdgeFailures } from '../contracts/engine.js';
import type { EdgeDrops, InputSet } from '../contracts/messenger.js';
import { DeadLetterWriter } from '../deadLetters/deadLetterWriter.js';
import { getLogger } from '../logging.js';
import { backoffDelay, type ErrorPolicy } from '../nodes/errorPolicy.js';
import { isSkippedItem, SkippedItem } from './skippedItem.js';
import { isAborted, sleep } from './waiting.js';

type DataInput = Extract<InputSet, { kind: 'data' }>;

/** What {@link ItemFailures.attempt} gives back: the call's result, or the marker of an item given up. */
export type Attempt<T> = { readonly done: true; readonly value: T } | { readonly done: false; readonly marker: SkippedItem };

/**
 * Applies a node's `onError` policy in one task (retries with backoff, dead letters) and counts
 * what it cost: items given up (`failed`), stored (`deadLettered`), retries, and per edge the
 * origins absent because a node upstream gave up on them. Shared by every engine.
 */
export class ItemFailures {
  failed = 0;
  deadLettered = 0;
  retried = 0;
  readonly #node: string;
  readonly #taskIndex: number;
  readonly #policy: ErrorPolicy;
  readonly #signal: AbortSignal;
  readonly #retries: number;
  readonly #absent = new Map<string, { from: string; to: string; failed: number; deadLettered: number }>();
  readonly #discarded = new Map<string, { from: string; to: string; count: number }>();
  #writer: DeadLetterWriter | undefined;

  /**
   * @param dropAtOnce the engine favours freshness (realtime): no retries, a failing item is dropped at once
   */
  constructor(node: string, taskIndex: number, policy: ErrorPolicy, signal: AbortSignal, dropAtOnce: boolean) {
    this.#node = node;
    this.#taskIndex = taskIndex;
    this.#policy = policy;
    this.#signal = signal;
    this.#retries = dropAtOnce ? 0 : policy.retries;
  }

  /** `onError: 'fail'` (the default): a throw fails the flow, so there is nothing to apply per item. */
  get failsFlow(): boolean {
    return this.#policy.mode === 'fail';
  }

  /**
   * Runs `call` (the node's `process` or `consume` on `input`) under the policy: `fail` rethrows the
   * first error; otherwise the call runs again after each failure, up to the retries, waiting the
   * backoff, and when the last attempt fails the item is given up (stored when a dead-letter folder
   * is set) and the marker to publish in its place is returned. An abort is always rethrown.
   */
  async attempt<T>(call: () => T | PromiseLike<T>, input: DataInput): Promise<Attempt<T>> {
    for (let attempts = 1; ; attempts++) {
      try {
        return { done: true, value: await call() };
      } catch (error) {
        if (this.#policy.mode === 'fail' || isAborted(error)) throw error;
        if (attempts <= this.#retries) {
          this.retried += 1;
          // Resolves early on stop or failure: then retry at once, and the loop sees the end soon.
          await sleep(backoffDelay(this.#policy, attempts), this.#signal);
          continue;
        }
        return { done: false, marker: this.#giveUp(error, input, attempts) };
      }
    }
  }

  #giveUp(error: unknown, input: DataInput, attempts: number): SkippedItem {
    this.failed += 1;
    const dir = this.#policy.deadLetterDir;
    if (dir !== undefined) {
      this.#writer ??= new DeadLetterWriter(dir, this.#node, this.#taskIndex);
      this.#writer.write({ seq: input.seq, ticket: input.ticket, attempts, error, inputs: input.values });
      this.deadLettered += 1;
    }
    const fields = { node: this.#node, taskIndex: this.#taskIndex, seq: input.seq, attempts, err: error };
    const what = dir === undefined ? 'dropped' : `stored in ${dir}`;
    // The first one per task is worth a warning; the rest are counted in the report.
    if (this.failed === 1) getLogger().warn(fields, `node "${this.#node}" gave up on item ${input.seq} (${what}); the flow goes on`);
    else getLogger().debug(fields, `node "${this.#node}" gave up on item ${input.seq} (${what})`);
    return new SkippedItem(this.#node, dir !== undefined);
  }

  /**
   * When `input` holds markers of items given up upstream: counts them per edge, counts the other
   * parents' outputs of that origin as discarded (a join never pairs them with another item), and
   * returns the marker to pass on. Undefined for an ordinary input set.
   */
  markerIn(input: DataInput): SkippedItem | undefined {
    let marker = input.values.find(isSkippedItem);
    if (marker === undefined) return undefined;
    // A set with a given-up item besides a dropped group (a join of both) passes the failure on.
    if (marker.groupDropped) for (const value of input.values) if (isSkippedItem(value) && !value.groupDropped) marker = value;
    for (const [index, value] of input.values.entries()) {
      const from = input.metas[index]?.node ?? String(index);
      const key = JSON.stringify([from, this.#node]);
      if (isSkippedItem(value)) {
        // A group a time join dropped: no failure, only a gap in its stream.
        if (value.groupDropped) continue;
        const edge = this.#absent.get(key) ?? { from, to: this.#node, failed: 0, deadLettered: 0 };
        edge.failed += 1;
        if (value.deadLettered) edge.deadLettered += 1;
        this.#absent.set(key, edge);
      } else {
        const edge = this.#discarded.get(key) ?? { from, to: this.#node, count: 0 };
        edge.count += 1;
        this.#discarded.set(key, edge);
      }
    }
    return marker;
  }

  /** Per edge into this node: origins absent because a node upstream gave up on them. */
  edgeFailures(): readonly EdgeFailures[] {
    return [...this.#absent.values()].map((edge) => ({ ...edge }));
  }

  /** Per edge into this node: outputs discarded because another input of their origin was given up. */
  discarded(): readonly EdgeDrops[] {
    return [...this.#discarded.values()].map((edge) => ({ ...edge }));
  }

  close(): void {
    this.#writer?.close();
  }
}
