import type { FlowReport } from '@vf/core';
import type { Condition } from './conditions.js';
import type { Directives, ResolvedDirectives } from './directives.js';
import { GroupsError } from './errors.js';
import type { FlowBudget } from './flowBudget.js';
import type { FlowGroup, GroupMembership } from './group.js';
import type { Job } from './workspace.js';

/** What an operation gets besides its job. */
export interface OperationContext {
  /** The operation's name. */
  readonly operation: string;
  /** The group it runs in (its own name when run alone). */
  readonly group: string;
  /** Its directives in that group, resolved for this job. */
  readonly directives: ResolvedDirectives;
  /** What a flow it runs may use: `np` task processes, `ngpu` GPUs. */
  readonly budget: FlowBudget;
  /**
   * Runs a vf flow module within {@link OperationContext.budget} with the project's engine and
   * allocator; resolves with the report, whatever its status.
   */
  runFlow(moduleUrl: string | URL, params?: unknown): Promise<FlowReport>;
}

/** The body of an operation. It may be async; throwing fails the operation (and the `run`). */
export type OperationFunction = (job: Job, context: OperationContext) => void | Promise<void>;

/** Options of `project.operation()`. */
export interface OperationOptions {
  /** The operation's own directives (used when it runs alone, and in groups that give none). */
  readonly directives?: Directives;
  /** Every pre-condition must hold for the operation to be eligible. */
  readonly pre?: readonly Condition[];
  /** The operation is complete when all hold, and eligible only while not all hold. None: never complete. */
  readonly post?: readonly Condition[];
  /** Groups to join: a group (keeps the operation's directives) or `group.with({ directives })`. */
  readonly groups?: readonly (FlowGroup | GroupMembership)[];
}

/** An operation of a project, as `project.operation()` returns it. */
export class FlowOperation {
  constructor(
    readonly name: string,
    readonly fn: OperationFunction,
    readonly directives: Directives,
    readonly pre: readonly Condition[],
    readonly post: readonly Condition[],
  ) {}
}

/**
 * An {@link OperationFunction} that runs a flow module with params made from the job, within the
 * budget of the group it runs in, and fails unless the flow completes.
 *
 * @example
 * ```ts
 * project.operation('detect', flowOperation(new URL('./flows/detect.ts', import.meta.url), (job) => ({ video: job.fn('in.mp4') })), {
 *   directives: { np: 4, ngpu: 1 },
 *   post: [post.isFile('detections.json')],
 * });
 * ```
 */
export function flowOperation(moduleUrl: string | URL, params: (job: Job) => unknown = () => null): OperationFunction {
  return async (job, context) => {
    const report = await context.runFlow(moduleUrl, params(job));
    if (report.status !== 'completed') {
      throw new GroupsError(
        'OPERATION_FAILED',
        `flow ${String(moduleUrl)} ended ${report.status}${report.error ? `: ${report.error.message}` : ''}`,
        {
          cause: report.error,
          details: { status: report.status },
        },
      );
    }
  };
}
