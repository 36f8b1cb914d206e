import type { Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { jsonLine, readJsonLines } from './jsonLines.js';
import { HeartbeatThread, heartbeatsTo, type TaskActivity } from './liveness.js';

/**
 * The task's end of the control channel to its host. Local tasks (forked) talk over Node's IPC
 * channel; a task started by a launcher on another machine (ssh, srun) has no IPC channel, so it
 * talks newline-delimited JSON over its stdin and stdout, which the launcher carries to the host.
 */
export interface ControlChannel {
  /** Sends a message to the host; dropped silently once the channel is closed. */
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the host is gone (IPC disconnect, stdin EOF). */
  onClose(listener: () => void): void;
  /** This task has nothing more to say: let the process exit. */
  close(): void;
  /**
   * Starts the task's heartbeats (`runtime/liveness.ts`), which reach the host even while the main
   * thread is blocked; resolves once the first one is out. Absent when the channel cannot carry
   * them: the host then never judges this task's liveness.
   */
  startHeartbeats?(heartbeatMs: number, activity: TaskActivity): Promise<void>;
}

/**
 * The environment variable naming the descriptor a forked task writes its heartbeats to (set by
 * `forkSpawner`, which reads the other end): Node's IPC channel is the main thread's alone.
 */
export const HEARTBEAT_FD_ENV = 'VF_HEARTBEAT_FD';

/** How long a closing IPC channel waits for its queued messages to be read by the host. */
const CLOSE_FLUSH_LIMIT_MS = 30_000;

/** The channel a task process should use: Node IPC when it has one, else stdio. */
export function defaultControlChannel(): ControlChannel {
  return process.send === undefined ? stdioControlChannel() : ipcControlChannel();
}

/** Node's IPC channel (the task was forked by the host). */
export function ipcControlChannel(): ControlChannel {
  const heartbeatFd = Number(process.env[HEARTBEAT_FD_ENV]);
  // Not for the node's own child processes: they are no task of this host.
  delete process.env[HEARTBEAT_FD_ENV];
  // Made now, while the task still loads its modules: a worker thread (where the native helper is
  // missing) takes tens of ms to start, and the task's `ready` waits for its first heartbeat.
  const heartbeats = Number.isInteger(heartbeatFd) && heartbeatFd > 2 ? heartbeatsTo(heartbeatFd) : undefined;
  // Node's disconnect() closes the channel at once, cancelling writes still queued behind a host that
  // reads slowly: the last messages (done) would be lost and the task seen as dead. Disconnect once sent.
  let unsent = 0;
  let closing = false;
  const disconnectOnceSent = () => {
    if (closing && unsent === 0 && process.connected) process.disconnect?.();
  };
  return {
    send: (message) => {
      if (!process.connected || closing || process.send === undefined) return;
      unsent += 1;
      process.send(message, undefined, undefined, () => {
        unsent -= 1;
        disconnectOnceSent();
      });
    },
    onMessage: (listener) => {
      process.on('message', listener);
    },
    onClose: (listener) => {
      process.on('disconnect', listener);
    },
    close: () => {
      heartbeats?.close();
      closing = true;
      disconnectOnceSent();
      // A host that never reads again is not waited for forever (unref: the queued write keeps this process up).
      if (process.connected) setTimeout(() => process.connected && process.disconnect?.(), CLOSE_FLUSH_LIMIT_MS).unref();
    },
    ...(heartbeats === undefined
      ? {}
      : { startHeartbeats: (heartbeatMs: number, activity: TaskActivity) => heartbeats.startHeartbeats(heartbeatMs, activity) }),
  };
}

/** Default of {@link stdioControlChannel}'s `hostSilenceMs`: the host sends a heartbeat every 2 s. */
export const DEFAULT_HOST_SILENCE_MS = 30_000;

/**
 * Newline-delimited JSON over stdin/stdout. stdout belongs to the channel, so everything else that
 * writes to `process.stdout` (a node's `console.log`) is sent to stderr instead: a stray line must
 * never be taken for a control message.
 *
 * The host writes an empty line every 2 s (`stdioTaskProcess`). When nothing at all arrives for
 * `hostSilenceMs`, the host is taken as gone, as on stdin's end: a machine cut off from the host
 * (a network partition) may never see its stdin end, and its task must not run on forever.
 * Default: `VF_HOST_SILENCE_MS` from the environment (a launcher sets it), else 30 s.
 */
export function stdioControlChannel(
  input: Readable = process.stdin,
  output: Writable = process.stdout,
  hostSilenceMs: number = Number(process.env.VF_HOST_SILENCE_MS) || DEFAULT_HOST_SILENCE_MS,
): ControlChannel {
  // On the real stdout, every line leaves through the heartbeat thread, its only writer: the
  // heartbeats it writes there between them can never split a line.
  const thread = output === process.stdout ? new HeartbeatThread(1, true) : undefined;
  const write = thread === undefined ? (output.write.bind(output) as (chunk: string) => boolean) : (line: string) => thread.writeLine(line);
  if (output === process.stdout) process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const listeners: Array<(message: unknown) => void> = [];
  const closeListeners: Array<() => void> = [];
  const lines: Interface = readJsonLines(input, (message) => {
    for (const listener of listeners) listener(message);
  });
  let open = true;
  let hostGone = false;
  const reportHostGone = () => {
    if (hostGone || !open) return;
    hostGone = true;
    clearInterval(watchdog);
    for (const listener of closeListeners) listener();
  };
  let lastHeard = Date.now();
  lines.on('line', () => {
    lastHeard = Date.now();
  });
  const watchdog = setInterval(
    () => {
      if (Date.now() - lastHeard > hostSilenceMs) reportHostGone();
    },
    Math.min(1_000, hostSilenceMs),
  );
  watchdog.unref();
  lines.once('close', reportHostGone);
  // An EPIPE once the host is gone is the close, reported through the input's end.
  output.on('error', () => undefined);
  return {
    send: (message) => {
      if (open) write(jsonLine(message));
    },
    onMessage: (listener) => {
      listeners.push(listener);
    },
    onClose: (listener) => {
      closeListeners.push(listener);
    },
    close: () => {
      open = false;
      clearInterval(watchdog);
      lines.close();
      // stdin would keep the event loop (and so the process) alive.
      input.destroy();
      thread?.close();
    },
    ...(thread === undefined
      ? {}
      : { startHeartbeats: (heartbeatMs: number, activity: TaskActivity) => thread.startHeartbeats(heartbeatMs, activity) }),
  };
}
