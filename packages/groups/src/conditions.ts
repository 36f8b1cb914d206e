import type { JsonValue } from '@vf/core';
import { canonicalJson, type Job } from './workspace.js';

/** What a condition may ask the project: whether an operation is complete for a job. */
export interface ConditionContext {
  /** True when every post-condition of `operation` holds for `job` (false for one without any). */
  isComplete(operation: string, job: Job): Promise<boolean>;
}

/** A pre- or post-condition: a (possibly async) predicate on a job. */
export type Condition = (job: Job, context: ConditionContext) => boolean | Promise<boolean>;

/** Anything that names an operation: its name, or the handle `project.operation()` returned. */
export type OperationRef = string | { readonly name: string };

/**
 * Ready-made conditions, usable as pre- and post-conditions (signac-flow's `FlowProject.pre.*` and
 * `FlowProject.post.*`); exported as both {@link pre} and {@link post}.
 *
 * @example
 * ```ts
 * project.operation('analyse', analyse, { pre: [pre.after('simulate')], post: [post.isFile('analysis.json')] });
 * ```
 */
export const conditions = {
  /** Holds once every named operation is complete for the job (their post-conditions all hold). */
  after(...operations: readonly OperationRef[]): Condition {
    const names = operations.map((operation) => (typeof operation === 'string' ? operation : operation.name));
    return async (job, context) => {
      for (const name of names) if (!(await context.isComplete(name, job))) return false;
      return true;
    };
  },
  /** Holds when `name` is a file in the job's folder. */
  isFile(name: string): Condition {
    return (job) => job.isFile(name);
  },
  /** Holds when the job document has `key`. */
  hasKey(key: string): Condition {
    return (job) => job.doc.has(key);
  },
  /** Holds when the job document's `key` is truthy. */
  isTrue(key: string): Condition {
    return (job) => Boolean(job.doc.get(key));
  },
  /** Holds when the job document's `key` is missing or falsy. */
  isFalse(key: string): Condition {
    return (job) => !job.doc.get(key);
  },
  /** Holds when the job document's `key` equals `value` as a JSON value (object key order does not matter). */
  docEquals(key: string, value: JsonValue): Condition {
    const wanted = canonicalJson(value, `docEquals("${key}")`);
    return (job) => {
      const data = job.doc.data();
      return Object.hasOwn(data, key) && canonicalJson(data[key], `document.${key}`) === wanted;
    };
  },
  /** Negates a condition. */
  not(condition: Condition): Condition {
    return async (job, context) => !(await condition(job, context));
  },
  /** Never holds (an operation run only on request, with `exec`). */
  never(): Condition {
    return () => false;
  },
} as const;

/** Pre-condition helpers (same as {@link conditions}). */
export const pre = conditions;
/** Post-condition helpers (same as {@link conditions}). */
export const post = conditions;
