import { GroupsError } from '../errors.js';
import { type ClusterJob, type ClusterJobState, CommandScheduler, type SchedulerOptions } from './scheduler.js';

/** Paths of the SLURM commands. */
export interface SlurmCommands {
  readonly sbatch?: string;
  readonly squeue?: string;
  readonly sacct?: string;
}

const HELD_REASONS = new Set(['JobHeldUser', 'JobHeldAdmin']);

/** Maps a SLURM state (and pending reason) onto a {@link ClusterJobState}: a held job is `held`, not `queued`. */
export function slurmState(state: string, reason: string): ClusterJobState {
  switch (state) {
    case 'PENDING':
    case 'REQUEUED':
    case 'REQUEUE_HOLD':
    case 'REQUEUE_FED':
    case 'RESV_DEL_HOLD':
      return HELD_REASONS.has(reason) || state.endsWith('HOLD') ? 'held' : 'queued';
    case 'SUSPENDED':
    case 'STOPPED':
      return 'held';
    case 'RUNNING':
    case 'CONFIGURING':
    case 'COMPLETING':
    case 'STAGE_OUT':
    case 'SIGNALING':
    case 'RESIZING':
      return 'running';
    case 'COMPLETED':
      return 'completed';
    case 'CANCELLED':
    case 'REVOKED':
      return 'cancelled';
    case 'FAILED':
    case 'TIMEOUT':
    case 'NODE_FAIL':
    case 'OUT_OF_MEMORY':
    case 'BOOT_FAIL':
    case 'DEADLINE':
    case 'PREEMPTED':
      return 'failed';
    default:
      return 'unknown';
  }
}

/** Parses `squeue -h -o '%i|%T|%r|%j'` output. */
export function parseSqueue(output: string): ClusterJob[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', state = '', reason = '', ...name] = line.split('|');
      return { id: id.trim(), name: name.join('|').trim(), state: slurmState(state.trim(), reason.trim()), detail: `${state} (${reason})` };
    });
}

/** Parses `sacct -n -P -o JobID,JobName,State` output (a state may read `CANCELLED by 0`). */
export function parseSacct(output: string): ClusterJob[] {
  return (
    output
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const [id = '', name = '', state = ''] = line.split('|');
        const word = state.trim().split(/\s+/)[0] ?? '';
        return { id: id.trim(), name: name.trim(), state: slurmState(word, ''), detail: state.trim() };
      })
      // Steps (`12.batch`) and array elements are the job's own business.
      .filter((job) => /^\d+$/.test(job.id))
  );
}

/** Where finished jobs are read from: the accounting database, the job completion log, or nowhere. */
type History = 'accounting' | 'completion' | 'none';

/**
 * SLURM: submits with `sbatch --parsable` (the script on standard input; `--hold` and
 * `--dependency` are in its header, so submission never waits for another job) and reads the
 * queue with `squeue`.
 */
export class SlurmScheduler extends CommandScheduler<Required<SlurmCommands>> {
  readonly name = 'slurm';
  readonly #historyDays: number;
  #history: History | undefined;

  /** `historyDays`: how far back finished jobs are read from SLURM's accounting (default 7). */
  constructor(options: SchedulerOptions & { readonly commands?: SlurmCommands; readonly historyDays?: number } = {}) {
    super(options, { sbatch: 'sbatch', squeue: 'squeue', sacct: 'sacct' });
    this.#historyDays = options.historyDays ?? 7;
  }

  async submit(script: string): Promise<string> {
    const { stdout } = await this.command(this.commands.sbatch, ['--parsable'], script);
    // --parsable prints "<id>" or "<id>;<cluster>".
    const id = stdout.trim().split(';')[0] ?? '';
    if (!/^\d+$/.test(id)) throw new GroupsError('SCHEDULER', `sbatch printed no job id: ${JSON.stringify(stdout.trim())}`);
    return id;
  }

  /**
   * This user's jobs in the queue (`squeue`), and those that left it within `historyDays` as SLURM's
   * accounting (`sacct`, with `slurmdbd`) or its job completion log (`sacct -c`, with
   * `JobCompType=jobcomp/filetxt`) knows them, so finished jobs show as completed, failed or
   * cancelled instead of vanishing. Without either, only the queue. Ordered by id.
   */
  async queue(): Promise<readonly ClusterJob[]> {
    const { stdout } = await this.command(this.commands.squeue, ['-h', '-u', this.user, '-o', '%i|%T|%r|%j']);
    const byId = new Map<string, ClusterJob>();
    for (const job of await this.#finished()) byId.set(job.id, job);
    // The queue is the fresher view of a job both list.
    for (const job of parseSqueue(stdout)) byId.set(job.id, job);
    return [...byId.values()].sort((a, b) => Number(a.id) - Number(b.id) || a.id.localeCompare(b.id));
  }

  async #finished(): Promise<ClusterJob[]> {
    const args = ['-n', '-P', '-X', '-u', this.user, '-S', `now-${this.#historyDays}days`, '-o', 'JobID,JobName,State'];
    const modes: History[] = this.#history === undefined ? ['accounting', 'completion'] : [this.#history];
    for (const mode of modes) {
      if (mode === 'none') return [];
      // A cluster without accounting answers "Slurm accounting storage is disabled": that is not an error of status.
      const result = await this.exec(this.commands.sacct, mode === 'completion' ? ['-c', ...args] : args, {
        env: this.env,
        timeoutMs: this.timeoutMs,
      }).catch(() => undefined);
      if (result?.code === 0) {
        this.#history = mode;
        return parseSacct(result.stdout);
      }
    }
    this.#history = 'none';
    return [];
  }
}
