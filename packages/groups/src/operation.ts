import { spawn } from 'node:child_process';
import type { FlowReport } from '@vf/core';
import type { Condition } from './conditions.js';
import type { Directives, ResolvedDirectives } from './directives.js';
import { GroupsError } from './errors.js';
import type { FlowBudget } from './flowBudget.js';
import type { FlowGroup, GroupMembership } from './group.js';
import type { Hooks } from './hooks.js';
import { shellQuote } from './templates/renderScript.js';
import type { Job } from './workspace.js';

/** Where an operation's output goes (the project's standard output and error). */
export interface OperationOutput {
  write(text: string): unknown;
}

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
  /** The project's output (what the CLI prints). */
  readonly stdout: OperationOutput;
  readonly stderr: OperationOutput;
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
  /** Hooks of this operation, called before the project's. */
  readonly hooks?: Hooks;
}

/** An operation of a project, as `project.operation()` returns it. */
export class FlowOperation {
  constructor(
    readonly name: string,
    readonly fn: OperationFunction,
    readonly directives: Directives,
    readonly pre: readonly Condition[],
    readonly post: readonly Condition[],
    readonly hooks: Hooks = {},
  ) {}
}

/**
 * An {@link OperationFunction} that runs a shell command (signac-flow's `cmd=True` operations),
 * in the job's folder, its output forwarded; a non-zero exit fails the operation. A string
 * template has placeholders `{id}`, `{path}` and `{sp.KEY}` (dotted keys reach into nested
 * values), each replaced shell-quoted; a function builds the command itself (quote with care).
 *
 * @example
 * ```ts
 * project.operation('compress', commandOperation('gzip -k {path}/trajectory.dat'), { post: [post.isFile('trajectory.dat.gz')] });
 * project.operation('render', commandOperation((job) => `render --size ${Number(job.sp.size)}`));
 * ```
 */
export function commandOperation(template: string | ((job: Job) => string)): OperationFunction {
  return (job, context) => {
    const command = typeof template === 'function' ? template(job) : expandCommand(template, job);
    return new Promise<void>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', command], {
        cwd: job.path,
        env: { ...process.env, ...context.budget.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (chunk: Buffer) => context.stdout.write(chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => context.stderr.write(chunk.toString('utf8')));
      child.once('error', reject);
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else
          reject(
            new GroupsError('OPERATION_FAILED', `command ${JSON.stringify(command)} exited with ${code ?? signal}`, {
              details: { command, code },
            }),
          );
      });
    });
  };
}

/** Fills `{id}`, `{path}`, `{sp.KEY}` of a command template, shell-quoted; throws `GROUP_DEFINITION` for an unknown placeholder. */
export function expandCommand(template: string, job: Job): string {
  return template.replace(/\{([^{}\s]+)\}/g, (whole, name: string) => {
    if (name === 'id') return job.id;
    if (name === 'path') return shellQuote(job.path);
    if (name.startsWith('sp.')) {
      let value: unknown = job.statepoint;
      for (const part of name.slice(3).split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
      if (value === undefined)
        throw new GroupsError('OPERATION_FAILED', `command template ${template}: job ${job.id} has no state point key ${name.slice(3)}`);
      return shellQuote(typeof value === 'string' ? value : JSON.stringify(value));
    }
    throw new GroupsError('GROUP_DEFINITION', `command template ${template}: unknown placeholder ${whole} (use {id}, {path}, {sp.KEY})`);
  });
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
