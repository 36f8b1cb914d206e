import { type CommandRunner, runCommand } from '../runCommand.js';
import { LsfScheduler } from './lsf.js';
import { PbsScheduler } from './pbs.js';
import type { Scheduler, SchedulerOptions } from './scheduler.js';
import { SlurmScheduler } from './slurm.js';

/** The schedulers vf knows, by name. */
export const SCHEDULERS = {
  slurm: (options?: SchedulerOptions) => new SlurmScheduler(options),
  pbs: (options?: SchedulerOptions) => new PbsScheduler(options),
  lsf: (options?: SchedulerOptions) => new LsfScheduler(options),
} as const;

/** A scheduler's name. */
export type SchedulerName = keyof typeof SCHEDULERS;

/**
 * Finds the scheduler of this machine: `VF_SCHEDULER` when set, else the first of `sbatch`
 * (SLURM), `qsub` (PBS), `bsub` (LSF) on PATH; undefined when none is.
 */
export async function detectScheduler(
  options: SchedulerOptions & { readonly exec?: CommandRunner } = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Scheduler | undefined> {
  const named = env.VF_SCHEDULER;
  if (named !== undefined && named in SCHEDULERS) return SCHEDULERS[named as SchedulerName](options);
  const exec = options.exec ?? runCommand;
  for (const [name, command] of [
    ['slurm', 'sbatch'],
    ['pbs', 'qsub'],
    ['lsf', 'bsub'],
  ] as const) {
    const found = await exec('sh', ['-c', `command -v ${command}`], { timeoutMs: 5_000, env: options.env ?? {} }).catch(() => undefined);
    if (found?.code === 0) return SCHEDULERS[name](options);
  }
  return undefined;
}
