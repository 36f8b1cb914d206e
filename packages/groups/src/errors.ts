import { VfError, type VfErrorOptions } from '@vf/core';

/** Error codes of {@link GroupsError}. */
export const GroupsErrorCode = {
  /** A group or operation definition is invalid (duplicate name, group named like an operation, ...). */
  Definition: 'GROUP_DEFINITION',
  /** An unknown group, operation or job was named. */
  NotFound: 'NOT_FOUND',
  /** `-o` selected groups that share an operation. */
  OverlappingGroups: 'OVERLAPPING_GROUPS',
  /** An operation failed while running; the job and operation are in `details`. */
  OperationFailed: 'OPERATION_FAILED',
  /** A state point or job document cannot be stored as JSON, or a stored one is corrupt. */
  InvalidJob: 'INVALID_JOB',
  /** A scheduler command failed or printed something unexpected. */
  Scheduler: 'SCHEDULER',
  /** A scheduler (or other) command took longer than its timeout. */
  Timeout: 'TIMEOUT',
  /** A command could not be started (not installed, not on PATH). */
  CommandNotFound: 'COMMAND_NOT_FOUND',
  /** A flow asks for more than its group's directives allow (tasks > np, GPUs > ngpu). */
  BudgetExceeded: 'BUDGET_EXCEEDED',
  /** An operation needs more GPUs (`ngpu`) than `CUDA_VISIBLE_DEVICES` names. */
  NoGpu: 'NO_GPU',
  /** The command line is invalid. */
  Usage: 'USAGE',
  /** A scheduler script template failed to render. */
  Template: 'TEMPLATE',
  /** A lock (a job document, an operation on a job, submission) stayed held by another process past its timeout. */
  Locked: 'LOCKED',
} as const;
export type GroupsErrorCode = (typeof GroupsErrorCode)[keyof typeof GroupsErrorCode];

/**
 * Every error `@vf/groups` throws: a `VfError` (from `@vf/core`) with a {@link GroupsErrorCode}.
 *
 * @example
 * ```ts
 * try { project.makeGroup('op1') } catch (e) { if (e instanceof GroupsError) console.log(e.code) } // 'GROUP_DEFINITION'
 * ```
 */
export class GroupsError extends VfError {
  constructor(code: GroupsErrorCode, message: string, options: VfErrorOptions = {}) {
    super(code, message, options);
    this.name = 'GroupsError';
  }
}

/**
 * A directive has an invalid value (e.g. `np: 0`, `memory: '4x'`, `processor_fraction: 2`).
 * Its code is `'INVALID_DIRECTIVE'`; `details` names the directive, the value and the operation.
 */
export class DirectiveError extends VfError {
  /** The directive's name, e.g. `'np'`. */
  readonly directive: string;

  constructor(directive: string, message: string, options: VfErrorOptions = {}) {
    super('INVALID_DIRECTIVE', message, { ...options, details: { directive, ...options.details } });
    this.name = 'DirectiveError';
    this.directive = directive;
  }
}

/** Checks a command-line count (`--parallel`, `--bundle`, ...); throws `USAGE`. */
export function requirePositiveInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new GroupsError('USAGE', `${option} must be a positive integer, got ${String(value)}`);
  return value;
}
