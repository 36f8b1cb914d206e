import { GroupsError } from '../errors.js';
import { type ClusterJob, type ClusterJobState, CommandScheduler, type SchedulerOptions } from './scheduler.js';

/** Paths of the PBS commands. */
export interface PbsCommands {
  readonly qsub?: string;
  readonly qstat?: string;
}

const PBS_STATES: Readonly<Record<string, ClusterJobState>> = {
  Q: 'queued',
  W: 'queued',
  T: 'queued',
  H: 'held',
  S: 'held',
  U: 'held',
  R: 'running',
  E: 'running',
  B: 'running',
  X: 'completed',
  C: 'completed',
  F: 'completed',
};

/** Parses `qstat -f` output (Torque and PBS Pro): blocks starting `Job Id: …` with `Job_Name` and `job_state`. */
export function parseQstat(output: string): ClusterJob[] {
  const jobs: ClusterJob[] = [];
  for (const block of output.split(/^Job Id:\s*/m).slice(1)) {
    const id = block.split('\n')[0]?.trim() ?? '';
    const name = /^\s*Job_Name\s*=\s*(.*)$/m.exec(block)?.[1]?.trim() ?? '';
    const state = /^\s*job_state\s*=\s*(\S+)/m.exec(block)?.[1] ?? '';
    jobs.push({ id, name, state: PBS_STATES[state] ?? 'unknown', detail: state });
  }
  return jobs;
}

/** PBS/Torque: submits with `qsub` (script on standard input), reads the queue with `qstat -f`. */
export class PbsScheduler extends CommandScheduler<Required<PbsCommands>> {
  readonly name = 'pbs';

  constructor(options: SchedulerOptions & { readonly commands?: PbsCommands } = {}) {
    super(options, { qsub: 'qsub', qstat: 'qstat' });
  }

  async submit(script: string): Promise<string> {
    const { stdout } = await this.command(this.commands.qsub, [], script);
    const id = stdout.trim();
    if (id === '') throw new GroupsError('SCHEDULER', 'qsub printed no job id');
    return id;
  }

  async queue(): Promise<readonly ClusterJob[]> {
    const { stdout } = await this.command(this.commands.qstat, ['-f', '-u', this.user]);
    return parseQstat(stdout);
  }
}
