import { spawn } from 'node:child_process';
import type { Launcher, SpawnRequest, TaskProcess } from '../../contracts/spawner.js';
import { FlowValidationError } from '../../errors.js';
import { taskNodeArguments } from '../forkSpawner.js';
import { shellQuote, stdioTaskProcess } from './stdioTaskProcess.js';

/** Options of {@link sshLauncher}. */
export interface SshLauncherOptions {
  /** The ssh destination (host name or address, as `ssh` takes it). */
  readonly host: string;
  /** The machine's address as the other tasks reach it (tasks bind there). Default: `host`. */
  readonly address?: string;
  readonly user?: string;
  readonly port?: number;
  /** Private key file (`ssh -i`). */
  readonly identityFile?: string;
  /** More `ssh` arguments, e.g. `['-o', 'StrictHostKeyChecking=accept-new']`. */
  readonly sshOptions?: readonly string[];
  /** The `node` executable on the remote machine. Default `node` (found on its PATH). */
  readonly node?: string;
  /** Working directory of the remote tasks. Default: the remote login directory. */
  readonly cwd?: string;
  /** The local `ssh` client. Default `ssh`. */
  readonly ssh?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Starts tasks on another machine over plain `ssh` (for machines without a scheduler). The remote
 * machine needs Node and must see vf and the flow module at the same paths as the host (a shared
 * file system or an identical deployment). The control channel is the ssh session's stdin/stdout;
 * the run's CURVE keys are written to it, never put on the command line.
 *
 * ssh runs with `-T` (no terminal): a pty would echo stdin (the keys) back and rewrite line ends.
 * Without a pty, sshd does not signal the remote process when the session ends; it closes its
 * stdin instead, and a vf task exits on that (within 1.5 s), so killing `ssh`, or the host dying,
 * ends the remote task. `BatchMode=yes` makes a missing key fail at once instead of prompting.
 *
 * @example
 * ```ts
 * const engine = new BatchExecutionEngine({
 *   host: '10.0.0.1', // this machine, as the remote one reaches it
 *   placement: { detector: sshLauncher({ host: '10.0.0.2', identityFile: '~/.ssh/vf' }) },
 * });
 * ```
 */
export function sshLauncher(options: SshLauncherOptions): Launcher {
  if (typeof options.host !== 'string' || options.host === '' || options.host.startsWith('-')) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `sshLauncher: host must be a host name or address, got ${JSON.stringify(options.host)}`,
    );
  }
  const address = options.address ?? options.host;
  return {
    address,
    description: `ssh ${options.host}`,
    spawn(request: SpawnRequest): TaskProcess {
      const env = { ...request.env, VF_TASK: request.label };
      for (const name of Object.keys(env)) {
        if (!ENV_NAME.test(name))
          throw new FlowValidationError('INVALID_OPTION', `sshLauncher: cannot pass environment variable ${JSON.stringify(name)}`);
      }
      const words = [
        'exec',
        'env',
        ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
        options.node ?? 'node',
        ...taskNodeArguments(request),
      ];
      const command = `${options.cwd === undefined ? '' : `cd ${shellQuote(options.cwd)} && `}${words.map(shellQuote).join(' ')}`;
      const args = ['-T', '-o', 'BatchMode=yes'];
      if (options.port !== undefined) args.push('-p', String(options.port));
      if (options.identityFile !== undefined) args.push('-i', options.identityFile);
      if (options.user !== undefined) args.push('-l', options.user);
      args.push(...(options.sshOptions ?? []), options.host, '--', command);
      const child = spawn(options.ssh ?? 'ssh', args, { stdio: ['pipe', 'pipe', 'inherit'] });
      return stdioTaskProcess(child);
    },
  };
}
