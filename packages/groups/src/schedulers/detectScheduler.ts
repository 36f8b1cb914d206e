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
 * (SLURM), `qsub` (PBS), `bsub` (LSF) on PATH whose queue can be read; undefined when none is.
 * Reading the queue once tells a working scheduler from client commands installed on a machine
 * that is not part of a cluster (e.g. `slurm-client` without a `slurm.conf`), which would
 * otherwise fail every `status`.
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
    if (found?.code !== 0) continue;
    const scheduler = SCHEDULERS[name](options);
    if (
      await scheduler.queue().then(
        () => true,
        () => false,
      )
    )
      return scheduler;
  }
  return undefined;
}
