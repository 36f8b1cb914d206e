import type { ChildProcess } from 'node:child_process';
import type { TaskProcess } from '../../contracts/spawner.js';
import { helloPid } from '../controlProtocol.js';
import { jsonLine, readJsonLines } from '../jsonLines.js';

/**
 * How a launcher kills its task: `remotePid` is the task's pid on its own machine, once the task
 * has said hello (undefined before). Called at most once per signal while the launcher runs.
 */
export type TerminateTask = (signal: NodeJS.Signals, remotePid: number | undefined) => void;

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
  const listeners: Array<(message: unknown) => void> = [];
  let remotePid: number | undefined;
  readJsonLines(stdout, (message) => {
    remotePid ??= helloPid(message);
    for (const listener of listeners) listener(message);
  });
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
