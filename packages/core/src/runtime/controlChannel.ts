import { Socket } from 'node:net';
import type { Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { jsonLine, readJsonLines } from './jsonLines.js';
import { HeartbeatThread, heartbeatsTo, type TaskActivity } from './liveness.js';

/**
 * The task's end of the control channel to its host: newline-delimited JSON. A local task
 * (`forkSpawner`) talks over pipes the host made for it; a task started by a launcher on another
 * machine (ssh, srun) talks over its stdin and stdout, which the launcher carries to the host.
 */
export interface ControlChannel {
  /** Sends a message to the host; dropped silently once the channel is closed. */
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the host is gone (the end of its input: the host's pipe, or stdin). */
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
 * The environment variable that gives a task started by `forkSpawner` the descriptors of its
 * control channel: `input,heartbeats,output` (pipes to the host, which holds their other ends).
 */
export const CONTROL_FDS_ENV = 'VF_CONTROL_FDS';

/** The descriptors of a local task's control channel (see {@link CONTROL_FDS_ENV}). */
export interface ControlFds {
  /** The host's messages to the task, newline-delimited JSON. */
  readonly input: number;
  /** The task's heartbeats, written by a thread of their own (the main thread may be busy). */
  readonly heartbeats: number;
  /** The task's messages to the host, newline-delimited JSON, written by the main thread. */
  readonly output: number;
}

/** How long a closing channel waits for its queued messages to be read by the host. */
const CLOSE_FLUSH_LIMIT_MS = 30_000;

/** The channel a task process should use: its pipes when `forkSpawner` started it, else stdio (a launcher). */
export function defaultControlChannel(): ControlChannel {
  const fds = parseControlFds(process.env[CONTROL_FDS_ENV]);
  // Not for the node's own child processes: they are no task of this host.
  delete process.env[CONTROL_FDS_ENV];
  return fds === undefined ? stdioControlChannel() : pipeControlChannel(fds);
}

function parseControlFds(setting: string | undefined): ControlFds | undefined {
  const fds = setting?.split(',').map(Number);
  if (fds?.length !== 3 || !fds.every((fd) => Number.isInteger(fd) && fd > 2)) return undefined;
  const [input, heartbeats, output] = fds as [number, number, number];
  return { input, heartbeats, output };
}

/**
 * The channel of a task on this host: newline-delimited JSON on pipes the host made, one each way,
 * plus one for heartbeats. Not Node's IPC channel: a forked child sets that up before any of its
 * code runs, loading `child_process`, `net` and the stream modules then, before the task's V8
 * options are reset (`forkSpawner.ts`), so without the code cache: ~13 ms of CPU in every task
 * (`--cpu-prof` of a task's start). The host's end of `input` closing (it exited, or was killed)
 * is the channel's close.
 */
export function pipeControlChannel(fds: ControlFds): ControlChannel {
  const input = new Socket({ fd: fds.input, readable: true, writable: false });
  const output = new Socket({ fd: fds.output, readable: false, writable: true });
  // Made now, while the task still loads its modules: a worker thread (where the native helper is
  // missing) takes tens of ms to start, and the task's `ready` waits for its first heartbeat.
  const heartbeats = heartbeatsTo(fds.heartbeats);
  const channel = jsonLineChannel(input, (line) => output.write(line));
  // A read or write error is the host gone, which the input's end reports.
  input.on('error', () => undefined);
  output.on('error', () => undefined);
  return {
    send: channel.send,
    onMessage: channel.onMessage,
    onClose: channel.onClose,
    close: () => {
      heartbeats.close();
      channel.close();
      // What is queued still leaves (a host busy elsewhere reads it later), then the pipe closes.
      output.end();
      // A host that never reads again is not waited for forever (unref: the queued write keeps this process up).
      setTimeout(() => output.destroy(), CLOSE_FLUSH_LIMIT_MS).unref();
    },
    startHeartbeats: (heartbeatMs: number, activity: TaskActivity) => heartbeats.startHeartbeats(heartbeatMs, activity),
  };
}

/** What both channels share: JSON lines read from `input` and written through `write`. */
interface JsonLineChannel extends Pick<ControlChannel, 'send' | 'onMessage' | 'onClose'> {
  /** Every line read (the empty ones too). */
  readonly lines: Interface;
  /** Tells the close listeners, once, that the host is gone (the input's end does too); not after {@link close}. */
  hostGone(): void;
  /** Sends and reads no more; the input's end is then no longer the host gone. */
  close(): void;
}

function jsonLineChannel(input: Readable, write: (line: string) => unknown): JsonLineChannel {
  const listeners: Array<(message: unknown) => void> = [];
  const closeListeners: Array<() => void> = [];
  let open = true;
  let gone = false;
  const lines = readJsonLines(input, (message) => {
    for (const listener of listeners) listener(message);
  });
  const hostGone = () => {
    if (gone || !open) return;
    gone = true;
    for (const listener of closeListeners) listener();
  };
  lines.once('close', hostGone);
  return {
    lines,
    hostGone,
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
      lines.close();
      // The input would keep the event loop (and so the process) alive.
      input.destroy();
    },
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
  const channel = jsonLineChannel(input, write);
  let lastHeard = Date.now();
  channel.lines.on('line', () => {
    lastHeard = Date.now();
  });
  const watchdog = setInterval(
    () => {
      if (Date.now() - lastHeard > hostSilenceMs) channel.hostGone();
    },
    Math.min(1_000, hostSilenceMs),
  );
  watchdog.unref();
  channel.onClose(() => clearInterval(watchdog));
  // An EPIPE once the host is gone is the close, reported through the input's end.
  output.on('error', () => undefined);
  return {
    send: channel.send,
    onMessage: channel.onMessage,
    onClose: channel.onClose,
    close: () => {
      clearInterval(watchdog);
      channel.close();
      thread?.close();
    },
    ...(thread === undefined
      ? {}
      : { startHeartbeats: (heartbeatMs: number, activity: TaskActivity) => thread.startHeartbeats(heartbeatMs, activity) }),
  };
}
