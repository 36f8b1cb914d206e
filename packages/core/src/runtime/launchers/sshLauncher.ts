import { spawn } from 'node:child_process';
import type { Launcher, SpawnRequest, TaskProcess } from '../../contracts/spawner.js';
import { FlowValidationError } from '../../errors.js';
import { emitWarningOnce } from '../../warnings.js';
import { taskNodeArguments } from '../forkSpawner.js';
import { restartedIfCaughtAtFork } from '../forkWindow.js';
import { hostSilenceEnv, shellQuote, stdioTaskProcess } from './stdioTaskProcess.js';

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
  /**
   * Seconds between ssh keepalives (`ServerAliveInterval`) on each task's session; `0` turns them
   * off. Default 5: with {@link SshLauncherOptions.serverAliveCountMax} 3, a dead or unreachable
   * machine ends the session after about 15 s, and the flow fails naming the node.
   */
  readonly serverAliveInterval?: number;
  /** Keepalives left unanswered before ssh gives up the session (`ServerAliveCountMax`). Default 3. */
  readonly serverAliveCountMax?: number;
  /**
   * How long the task may hear nothing from the host (which writes a heartbeat every 2 s) before it
   * takes the host as gone and exits, as when its stdin ends: the way out for a task on a machine cut
   * off from the host, whose stdin may never end. Default 30 000 ms; at least 4 000.
   */
  readonly hostSilenceMs?: number;
}

/**
 * Longest wait for the separate `ssh host kill` that ends a remote task; the local ssh is killed then
 * anyway. A new ssh connection's key exchange is CPU work on both ends: with the host's two cores
 * busy (ten spinning processes), that kill took ~3 s; with three test suites at once it overran 5 s,
 * and the remote task, spinning, outlived the flow. An unreachable machine still fails within
 * `ConnectTimeout` (5 s unless `sshOptions` sets one).
 */
const REMOTE_KILL_TIMEOUT_MS = 15_000;
/** How long the session of a remotely killed task may take to end by itself before the local ssh is killed. */
const SESSION_END_GRACE_MS = 2_000;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Starts tasks on another machine over plain `ssh` (for machines without a scheduler). The remote
 * machine needs Node and must see vf and the flow module at the same paths as the host (a shared
 * file system or an identical deployment). The control channel is the ssh session's stdin/stdout;
 * the run's CURVE keys are written to it, never put on the command line.
 *
 * ssh runs with `-T` (no terminal): a pty would echo stdin (the keys) back and rewrite line ends.
 * Without a pty, sshd does not signal the remote process when the session ends; it closes its
 * stdin instead, and a vf task exits on that (within 1.5 s), so the host dying ends the remote
 * task. A task stuck in synchronous code never sees its stdin end, though: killing a task therefore
 * first runs `ssh <same options> host kill -s KILL` on the process group of the pid the task
 * reported as it started (bounded by 15 s; a failure is a warning, never an error), then gives the
 * session 2 s to end by itself before killing the local `ssh`. `BatchMode=yes` makes a missing key
 * fail at once instead of prompting; keepalives (5 s × 3 by default) make a dead machine fail the
 * flow instead of hanging it.
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
  for (const key of ['serverAliveInterval', 'serverAliveCountMax'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
      throw new FlowValidationError('INVALID_OPTION', `sshLauncher: ${key} must be an integer ≥ 0, got ${String(value)}`);
    }
  }
  const silenceEnv = hostSilenceEnv('sshLauncher', options.hostSilenceMs);
  const address = options.address ?? options.host;
  const ssh = options.ssh ?? 'ssh';
  // ssh keeps the first value it gets for an option: the user's sshOptions win over these defaults.
  const sshArgs = ['-T', '-o', 'BatchMode=yes'];
  if (options.port !== undefined) sshArgs.push('-p', String(options.port));
  if (options.identityFile !== undefined) sshArgs.push('-i', options.identityFile);
  if (options.user !== undefined) sshArgs.push('-l', options.user);
  sshArgs.push(
    ...(options.sshOptions ?? []),
    '-o',
    `ServerAliveInterval=${options.serverAliveInterval ?? 5}`,
    '-o',
    `ServerAliveCountMax=${options.serverAliveCountMax ?? 3}`,
  );
  return {
    address,
    description: `ssh ${options.host}`,
    spawn(request: SpawnRequest): TaskProcess {
      const env = { ...request.env, ...silenceEnv, VF_TASK: request.label };
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
      return restartedIfCaughtAtFork(() => {
        // A session of its own, as local tasks (forkSpawner): the terminal's Ctrl-C must reach the host
        // only, which stops the flow; an ssh client killed by it would cut the remote task's control
        // channel, and the flow would fail instead of stopping.
        const child = spawn(ssh, [...sshArgs, options.host, '--', command], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
        const remoteKills = new Map<NodeJS.Signals, Promise<boolean>>();
        return stdioTaskProcess(child, (signal, remotePid) => {
          if (remotePid === undefined) {
            child.kill(signal);
            return;
          }
          let remoteKill = remoteKills.get(signal);
          if (remoteKill === undefined) {
            remoteKill = killRemote(ssh, [...sshArgs, '-o', 'ConnectTimeout=5', options.host], remotePid, signal).then((failure) => {
              if (failure === undefined) return true;
              emitWarningOnce(`sshLauncher: could not kill task ${request.label} (pid ${remotePid}) on ${options.host}: ${failure}`, {
                code: 'VF_REMOTE_KILL_FAILED',
              });
              return false;
            });
            remoteKills.set(signal, remoteKill);
          }
          // Once the remote process is killed, sshd ends the session as soon as it has reaped it: the
          // task's exit then means the remote process is gone. The local ssh is killed if that lags.
          void remoteKill.then((killed) => setTimeout(() => child.kill(signal), killed ? SESSION_END_GRACE_MS : 0).unref());
        });
      });
    },
  };
}

/**
 * Sends `signal` to a remote task's process group (the task is its leader: sshd starts each session
 * in a new session, and the command `exec`s node), falling back to the process alone. Resolves
 * with why it failed, or undefined once the process is signalled or already gone; never rejects.
 */
export function killRemote(ssh: string, sshArgs: readonly string[], pid: number, signal: NodeJS.Signals): Promise<string | undefined> {
  const name = signal.replace(/^SIG/, '');
  const command = `kill -s ${name} -- -${pid} 2>/dev/null || kill -s ${name} ${pid} 2>/dev/null || ! kill -0 ${pid} 2>/dev/null`;
  return new Promise((resolve) => {
    let stderr = '';
    const killer = spawn(ssh, [...sshArgs, '--', command], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: REMOTE_KILL_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    killer.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    killer.once('error', (error) => resolve(error.message));
    killer.once('close', (code, killedBy) => {
      if (code === 0) resolve(undefined);
      else if (killedBy !== null) resolve(`ssh gave no answer within ${REMOTE_KILL_TIMEOUT_MS} ms`);
      else resolve(`ssh exited with code ${String(code)}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`);
    });
  });
}
