import { GroupsError } from '../errors.js';
import { type ClusterJob, type ClusterJobState, CommandScheduler, type SchedulerOptions } from './scheduler.js';

/** Paths of the LSF commands. */
export interface LsfCommands {
  readonly bsub?: string;
  readonly bjobs?: string;
}

const LSF_STATES: Readonly<Record<string, ClusterJobState>> = {
  PEND: 'queued',
  WAIT: 'queued',
  PSUSP: 'held',
  USUSP: 'held',
  SSUSP: 'held',
  RUN: 'running',
  PROV: 'running',
  DONE: 'completed',
  EXIT: 'failed',
  ZOMBI: 'failed',
  UNKWN: 'unknown',
};

/** Parses `bjobs -noheader -o 'jobid stat job_name delimiter="|"'` output. */
export function parseBjobs(output: string): ClusterJob[] {
  return output
    .split('\n')
    .filter((line) => line.includes('|'))
    .map((line) => {
      const [id = '', state = '', ...name] = line.split('|');
      return { id: id.trim(), name: name.join('|').trim(), state: LSF_STATES[state.trim()] ?? 'unknown', detail: state.trim() };
    });
}

/** LSF: submits with `bsub` (script on standard input), reads the queue with `bjobs`. */
export class LsfScheduler extends CommandScheduler<Required<LsfCommands>> {
  readonly name = 'lsf';

  constructor(options: SchedulerOptions & { readonly commands?: LsfCommands } = {}) {
    super(options, { bsub: 'bsub', bjobs: 'bjobs' });
  }

  async submit(script: string): Promise<string> {
    const { stdout } = await this.command(this.commands.bsub, [], script);
    const id = /Job <(\d+)>/.exec(stdout)?.[1];
    if (id === undefined) throw new GroupsError('SCHEDULER', `bsub printed no job id: ${JSON.stringify(stdout.trim())}`);
    return id;
  }

  async queue(): Promise<readonly ClusterJob[]> {
    const { stdout } = await this.command(this.commands.bjobs, ['-u', this.user, '-noheader', '-o', 'jobid stat job_name delimiter="|"']);
    return parseBjobs(stdout);
  }
}
