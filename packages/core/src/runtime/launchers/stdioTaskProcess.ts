import type { ChildProcess } from 'node:child_process';
import type { TaskProcess } from '../../contracts/spawner.js';
import { FlowValidationError } from '../../errors.js';
import { helloPid } from '../controlProtocol.js';
import { jsonLine, readJsonLines } from '../jsonLines.js';

/**
 * How a launcher kills its task: `remotePid` is the task's pid on its own machine, once the task
 * has said hello (undefined before). Called at most once per signal while the launcher runs.
 */
export type TerminateTask = (signal: NodeJS.Signals, remotePid: number | undefined) => void;

/** How often the host writes an empty line to a launched task: its proof of life (see `stdioControlChannel`). */
export const HOST_HEARTBEAT_MS = 2_000;

/**
 * The environment that tells a launched task how long its host may stay silent before the task
 * takes it as gone (`VF_HOST_SILENCE_MS`, read by `stdioControlChannel`). Checks the launcher option:
 * at least two heartbeats long, so that one late heartbeat never ends a healthy task.
 */
export function hostSilenceEnv(launcher: string, hostSilenceMs: number | undefined): Record<string, string> {
  if (hostSilenceMs === undefined) return {};
  if (!Number.isFinite(hostSilenceMs) || hostSilenceMs < 2 * HOST_HEARTBEAT_MS) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `${launcher}: hostSilenceMs must be a number of ms ≥ ${2 * HOST_HEARTBEAT_MS}, got ${String(hostSilenceMs)}`,
    );
  }
  return { VF_HOST_SILENCE_MS: String(Math.round(hostSilenceMs)) };
}

/**
 * The host's view of a task started through a launcher process (ssh, srun) whose stdin and stdout
 * carry the control channel as newline-delimited JSON (the task's end is `stdioControlChannel`).
 * The first line written is the `init` message, which holds the run's CURVE keys: they cross only
 * this private pipe, never a command line or an environment.
 *
 * By default `kill` signals the launcher; the remote task sees its stdin end and exits by itself (as
 * a forked task does when the IPC channel closes), unless it is stuck in synchronous code. So a
 * launcher passes `terminate` to reach the remote process itself, by the pid from the task's hello.
 */
export function stdioTaskProcess(child: ChildProcess, terminate: TerminateTask = (signal) => child.kill(signal)): TaskProcess {
  let exited = false;
  const exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];
  const report = (code: number | null, signal: NodeJS.Signals | null) => {
    if (exited) return;
    exited = true;
    clearInterval(heartbeat);
    for (const listener of exitListeners) listener(code, signal);
  };
  // 'close', not 'exit': the last control messages (done) are read before the exit is reported.
  child.once('close', report);
  child.once('error', () => {
    if (child.pid === undefined) report(null, null);
  });
  const { stdin, stdout } = child;
  if (stdin === null || stdout === null) throw new TypeError('a launcher must start its process with piped stdin and stdout');
  // Writing to a launcher that just died raises EPIPE: the exit is what gets reported.
  stdin.on('error', () => undefined);
  // An empty line is no message: the task's channel only notes that the host is alive.
  const heartbeat = setInterval(() => {
    if (!exited && stdin.writable) stdin.write('\n');
  }, HOST_HEARTBEAT_MS);
  heartbeat.unref();
  const listeners: Array<(message: unknown) => void> = [];
  let remotePid: number | undefined;
  readJsonLines(
    stdout,
    (message) => {
      remotePid ??= helloPid(message);
      for (const listener of listeners) listener(message);
    },
    // The task's own writes to stdout go to its stderr; a child process it starts with inherited
    // stdio (ffmpeg, a shell command) still writes here. Its lines are the task's output, not a
    // broken channel: shown as the launcher's stderr is. A control line it cut in two still fails.
    (line) => process.stderr.write(`${line}\n`),
  );
  return {
    pid: child.pid,
    send: (message) => {
      if (exited || !stdin.writable) return false;
      stdin.write(jsonLine(message));
      return true;
    },
    onMessage: (listener) => {
      listeners.push(listener);
    },
    onExit: (listener) => {
      if (exited) listener(child.exitCode, child.signalCode);
      else exitListeners.push(listener);
    },
    kill: (signal = 'SIGKILL') => {
      if (!exited) terminate(signal, remotePid);
    },
  };
}

/** Quotes one word for a POSIX shell (ssh hands the remote command to the login shell as one string). */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
