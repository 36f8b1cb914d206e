import { userInfo } from 'node:os';
import { GroupsError } from '../errors.js';
import { type CommandResult, type CommandRunner, runCommand } from '../runCommand.js';

/** A cluster job's state, as `status` shows it. */
export type ClusterJobState = 'queued' | 'held' | 'running' | 'completed' | 'failed' | 'cancelled' | 'unknown';

/** States in which a cluster job still counts as submitted (it will run, or is running). */
export const ACTIVE_STATES: readonly ClusterJobState[] = ['queued', 'held', 'running'];

/** One job in the scheduler's queue. */
export interface ClusterJob {
  /** The scheduler's id, e.g. `'1234'`. */
  readonly id: string;
  /** The job name vf gave it (`<project>/<job id>/<group>` or a bundle name). */
  readonly name: string;
  readonly state: ClusterJobState;
  /** The scheduler's own state and reason, e.g. `'PENDING (JobHeldUser)'`. */
  readonly detail: string;
}

/** The port every scheduler implements: submit a rendered script, read the queue. */
export interface Scheduler {
  /** `'slurm'`, `'pbs'` or `'lsf'`: also the name of its script template. */
  readonly name: string;
  /** Submits a script (its options are in its header) and returns the cluster job id. Never waits for the job. */
  submit(script: string): Promise<string>;
  /** This user's jobs in the queue. */
  queue(): Promise<readonly ClusterJob[]>;
}

/** Options shared by the scheduler implementations: the environment they run in, injected. */
export interface SchedulerOptions {
  /** Runs the scheduler's commands (default: {@link runCommand}). */
  readonly exec?: CommandRunner;
  /** Environment added to every command, e.g. `{ SLURM_CONF: '/path/slurm.conf' }`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Timeout of each command, ms (default 30 s). */
  readonly timeoutMs?: number;
  /** Whose jobs `queue()` lists (default: this process's user). */
  readonly user?: string;
}

/**
 * Base of the command-line schedulers: runs a command, turns failures into `SCHEDULER` errors.
 * `TCommands` names the commands it uses (e.g. `{ sbatch, squeue }`), each overridable by path.
 */
export abstract class CommandScheduler<TCommands extends Record<string, string> = Record<string, string>> implements Scheduler {
  abstract readonly name: string;
  /** The command paths in use: the defaults, overridden by `options.commands`. */
  protected readonly commands: TCommands;
  protected readonly exec: CommandRunner;
  protected readonly env: Readonly<Record<string, string>>;
  protected readonly timeoutMs: number;
  protected readonly user: string;

  constructor(options: SchedulerOptions & { readonly commands?: Partial<TCommands> }, defaults: TCommands) {
    this.commands = { ...defaults, ...options.commands };
    this.exec = options.exec ?? runCommand;
    this.env = options.env ?? {};
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.user = options.user ?? userInfo().username;
  }

  abstract submit(script: string): Promise<string>;
  abstract queue(): Promise<readonly ClusterJob[]>;

  /** Runs `command`; a non-zero exit throws `SCHEDULER` with its standard error. */
  protected async command(command: string, args: readonly string[], input?: string): Promise<CommandResult> {
    const result = await this.exec(command, args, {
      env: this.env,
      timeoutMs: this.timeoutMs,
      ...(input === undefined ? {} : { input }),
    });
    if (result.code !== 0) {
      // The last line is the scheduler's verdict (e.g. "squeue: fatal: ..."); all of it is in details.
      const output = (result.stderr.trim() || result.stdout.trim()).split('\n').at(-1)?.slice(0, 500) ?? '';
      throw new GroupsError('SCHEDULER', `${command} failed (exit ${result.code}): ${output}`, {
        details: { command, code: result.code, stderr: result.stderr.slice(-2000) },
      });
    }
    return result;
  }
}
