import { createHash } from 'node:crypto';
import type { JsonValue } from '@vf/core';
import { GroupsError } from './errors.js';
import { canonicalJson, type Job } from './workspace.js';

/** How an aggregate operation groups jobs (signac-flow's `aggregator`). */
export interface Aggregator {
  /** Shown by `status`, e.g. `groupby(kind)`. */
  readonly description: string;
  /** The aggregates of `jobs` (ordered by id): each a non-empty list of jobs. */
  aggregate(jobs: readonly Job[]): Job[][];
}

/** An aggregate's id: `agg-` and the md5 of its job ids, in order (stable across runs). */
export function aggregateId(jobs: readonly Job[]): string {
  return `agg-${createHash('md5')
    .update(jobs.map((job) => job.id).join(','))
    .digest('hex')}`;
}

/**
 * Ready-made aggregators (signac-flow's `aggregator.groupby`, `aggregator.groupsof`, `aggregator()`).
 *
 * @example
 * ```ts
 * project.aggregateOperation('average', aggregator.groupby('temperature'), (jobs) => { ... });
 * ```
 */
export const aggregator = {
  /** One aggregate of every job. */
  all(): Aggregator {
    return { description: 'all', aggregate: (jobs) => (jobs.length === 0 ? [] : [[...jobs]]) };
  },

  /** Consecutive groups of `size` jobs (the last may be smaller). */
  groupsof(size: number): Aggregator {
    if (!Number.isInteger(size) || size < 1)
      throw new GroupsError('GROUP_DEFINITION', `aggregator.groupsof(${size}): size must be a positive integer`);
    return {
      description: `groupsof(${size})`,
      aggregate: (jobs) => {
        const groups: Job[][] = [];
        for (let start = 0; start < jobs.length; start += size) groups.push(jobs.slice(start, start + size));
        return groups;
      },
    };
  },

  /**
   * Jobs with equal values of state point `keys` (dotted keys reach into nested objects), or of
   * `key(job)`. A job without one of the keys goes with others lacking it when `missing` is given
   * (it stands in for the value), and in no aggregate otherwise (as in signac-flow).
   */
  groupby(keys: string | readonly string[] | ((job: Job) => JsonValue), missing?: JsonValue): Aggregator {
    const keyOf =
      typeof keys === 'function'
        ? (job: Job) => canonicalJson(keys(job), 'groupby key')
        : (job: Job) => {
            const values: JsonValue[] = [];
            for (const key of typeof keys === 'string' ? [keys] : keys) {
              const value = lookup(job.statepoint, key);
              if (value === undefined && missing === undefined) return undefined;
              values.push(value ?? missing!);
            }
            return canonicalJson(values);
          };
    return {
      description: `groupby(${typeof keys === 'function' ? keys.name || 'function' : [keys].flat().join(', ')})`,
      aggregate: (jobs) => {
        const groups = new Map<string, Job[]>();
        for (const job of jobs) {
          const key = keyOf(job);
          if (key === undefined) continue;
          const group = groups.get(key) ?? [];
          group.push(job);
          groups.set(key, group);
        }
        return [...groups.keys()].sort().map((key) => groups.get(key)!);
      },
    };
  },
} as const;

function lookup(value: JsonValue, path: string): JsonValue | undefined {
  let current: JsonValue | undefined = value;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, JsonValue>)[part];
  }
  return current;
}
