import { GroupsError } from '../errors.js';
import { type ClusterJob, type ClusterJobState, CommandScheduler, type SchedulerOptions } from './scheduler.js';

/** Paths of the SLURM commands. */
export interface SlurmCommands {
  readonly sbatch?: string;
  readonly squeue?: string;
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

/**
 * SLURM: submits with `sbatch --parsable` (the script on standard input; `--hold` and
 * `--dependency` are in its header, so submission never waits for another job) and reads the
 * queue with `squeue`.
 */
export class SlurmScheduler extends CommandScheduler<Required<SlurmCommands>> {
  readonly name = 'slurm';

  constructor(options: SchedulerOptions & { readonly commands?: SlurmCommands } = {}) {
    super(options, { sbatch: 'sbatch', squeue: 'squeue' });
  }

  async submit(script: string): Promise<string> {
    const { stdout } = await this.command(this.commands.sbatch, ['--parsable'], script);
    // --parsable prints "<id>" or "<id>;<cluster>".
    const id = stdout.trim().split(';')[0] ?? '';
    if (!/^\d+$/.test(id)) throw new GroupsError('SCHEDULER', `sbatch printed no job id: ${JSON.stringify(stdout.trim())}`);
    return id;
  }

  async queue(): Promise<readonly ClusterJob[]> {
    const { stdout } = await this.command(this.commands.squeue, ['-h', '-u', this.user, '-o', '%i|%T|%r|%j']);
    return parseSqueue(stdout);
  }
}
