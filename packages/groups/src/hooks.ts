import type { Job } from './workspace.js';

/**
 * Functions called around an operation (signac-flow's hooks): to log, or to record provenance in
 * the job document. They run in the process that started the operation (for a forked operation,
 * the parent), with the operation's job (an aggregate operation: all its jobs). A hook that throws
 * fails the operation.
 *
 * @example
 * ```ts
 * project.addHooks({
 *   onStart: (operation, job) => job.doc.set(`${operation}_started`, new Date().toISOString()),
 *   onException: (operation, error, job) => job.doc.set(`${operation}_error`, String(error)),
 * });
 * ```
 */
export interface Hooks {
  /** Before the operation starts. */
  readonly onStart?: (operation: string, ...jobs: Job[]) => void | Promise<void>;
  /** After it succeeded. */
  readonly onSuccess?: (operation: string, ...jobs: Job[]) => void | Promise<void>;
  /** After it failed, with its error. */
  readonly onException?: (operation: string, error: unknown, ...jobs: Job[]) => void | Promise<void>;
  /** After it ended either way (after `onSuccess` or `onException`). */
  readonly onExit?: (operation: string, ...jobs: Job[]) => void | Promise<void>;
}

/** Runs `body` between the hooks of `hooks` (in order: the operation's, then the project's). */
export async function withHooks(
  hooks: readonly Hooks[],
  operation: string,
  jobs: readonly Job[],
  body: () => Promise<void>,
): Promise<void> {
  for (const hook of hooks) await hook.onStart?.(operation, ...jobs);
  try {
    await body();
    for (const hook of hooks) await hook.onSuccess?.(operation, ...jobs);
  } catch (error) {
    for (const hook of hooks) await hook.onException?.(operation, error, ...jobs);
    throw error;
  } finally {
    for (const hook of hooks) await hook.onExit?.(operation, ...jobs);
  }
}
