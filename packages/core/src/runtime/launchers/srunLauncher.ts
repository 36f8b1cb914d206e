import { spawn } from 'node:child_process';
import type { Launcher, SpawnRequest, TaskProcess } from '../../contracts/spawner.js';
import { FlowValidationError } from '../../errors.js';
import { taskNodeArguments } from '../forkSpawner.js';
import { hostSilenceEnv, stdioTaskProcess } from './stdioTaskProcess.js';

/** Options of {@link srunLauncher}. */
export interface SrunLauncherOptions {
  /** The address of the node the task runs on, as the other tasks reach it (tasks bind there). */
  readonly address: string;
  /** `--nodelist`: the node to run on. Default: whichever SLURM picks (then `address` must match it). */
  readonly nodelist?: string;
  /** `--jobid`: the allocation to run in. Default: the one in the environment (`SLURM_JOB_ID`), if any. */
  readonly jobId?: string | number;
  /** More `srun` arguments (e.g. `['--overlap']` or `['--partition=gpu']`). */
  readonly srunOptions?: readonly string[];
  /** Environment of `srun` itself (e.g. `SLURM_CONF`), on top of the host's. */
  readonly env?: Readonly<Record<string, string>>;
  /** The `node` executable on the compute node. Default `node`. */
  readonly node?: string;
  /** The `srun` command. Default `srun`. */
  readonly srun?: string;
  /**
   * How long the task may hear nothing from the host (which writes a heartbeat every 2 s) before it
   * takes the host as gone and exits, as when its stdin ends: the way out for a task on a machine cut
   * off from the host, whose stdin may never end. Default 30 000 ms; at least 4 000.
   */
  readonly hostSilenceMs?: number;
}

/** How long `srun` gets to end its step after SIGTERM before it is killed. */
const SRUN_TERM_GRACE_MS = 2_000;

/**
 * Starts tasks as SLURM job steps with `srun` (one node, one task each), normally from inside an
 * allocation (`salloc`, or a batch script). The compute node must see vf and the flow module at the
 * same paths (a shared file system, as on clusters). srun forwards the step's stdin and stdout,
 * which carry the control channel; the run's CURVE keys are written there, never on a command line
 * or in the environment (srun exports the environment to the step).
 *
 * Killing a task sends srun SIGTERM, which srun turns into a cancel of the step: the task is
 * SIGKILLed on the node, even one stuck in synchronous code. srun gets SIGKILL after 2 s; slurmstepd
 * also ends a step whose srun died, so no `scancel` is needed (both checked with SLURM 22.05 and a
 * spinning task).
 *
 * @example
 * ```ts
 * placement: { detector: srunLauncher({ address: '10.0.0.7', nodelist: 'gpu07' }) }
 * ```
 */
export function srunLauncher(options: SrunLauncherOptions): Launcher {
  if (typeof options.address !== 'string' || options.address === '') {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `srunLauncher: address must be the node's address, got ${JSON.stringify(options.address)}`,
    );
  }
  const silenceEnv = hostSilenceEnv('srunLauncher', options.hostSilenceMs);
  return {
    address: options.address,
    description: `srun${options.nodelist === undefined ? '' : ` --nodelist=${options.nodelist}`}`,
    spawn(request: SpawnRequest): TaskProcess {
      const args = ['--nodes=1', '--ntasks=1', '--quiet', `--job-name=vf-${request.label}`];
      if (options.nodelist !== undefined) args.push(`--nodelist=${options.nodelist}`);
      if (options.jobId !== undefined) args.push(`--jobid=${options.jobId}`);
      args.push(...(options.srunOptions ?? []), options.node ?? 'node', ...taskNodeArguments(request));
      const child = spawn(options.srun ?? 'srun', args, {
        env: { ...process.env, ...options.env, ...request.env, ...silenceEnv, VF_TASK: request.label },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      return stdioTaskProcess(child, (signal) => {
        child.kill(signal === 'SIGKILL' ? 'SIGTERM' : signal);
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }, SRUN_TERM_GRACE_MS).unref();
      });
    },
  };
}
