import { Worker } from 'node:worker_threads';
import { type NativeHelper, nativeHelper } from '../nativeHelper.js';
import type { Clock } from './clock.js';
import { CONTROL_PROTOCOL_VERSION } from './controlProtocol.js';
import { isPromiseLike } from './waiting.js';

/**
 * Liveness of task processes: how the host tells a task that stopped answering (SIGSTOP, frozen, its
 * machine gone, a runtime stuck in a loop) from one whose node is merely busy in a long synchronous
 * `process()`.
 *
 * Task side: a **heartbeat thread** (native, `native/vfShm.c`, where the helper was built; else a
 * worker thread: either runs while the main thread is blocked)
 * writes a `heartbeat` control message every `heartbeatMs` straight to a file descriptor the host
 * reads: fd 1 for tasks that talk JSON lines over stdio (ssh, srun), a dedicated pipe (fd 4) for
 * forked tasks, whose control channel (Node IPC) only the main thread can use. Each heartbeat says
 * how long the main thread's event loop has not turned (`stalledMs`, from a tick counter the main
 * thread bumps in shared memory) and whether the main thread is inside node code (`inNode`, a
 * shared counter set around `open`, `produce`, `process`, `consume`, `close` and the flow module).
 *
 * Host side ({@link LivenessWatch}): a task is unresponsive when nothing at all came from it for
 * `livenessTimeoutMs` (the whole process is stopped, or its machine or link is gone), or when its
 * heartbeats report a main thread stalled for longer than that **outside** node code (the runtime
 * itself is stuck). A main thread stalled inside node code is a busy node, never killed for it:
 * `stop()` and its `stopTimeoutMs` deal with nodes that never return. Callbacks a node leaves
 * behind (timers, event handlers) run outside the mark: blocked there, the task counts as stuck.
 */

/** Shortest `livenessTimeoutMs` accepted: heartbeats then leave every 20 ms. */
export const MIN_LIVENESS_TIMEOUT_MS = 100;

/** The heartbeat period for a liveness timeout: five heartbeats per timeout, at most one every 2 s. */
export function heartbeatPeriodMs(livenessTimeoutMs: number): number {
  return Math.min(2_000, Math.max(20, Math.floor(livenessTimeoutMs / 5)));
}

const TICKS = 0;
const IN_NODE = 1;

/**
 * What the main thread of a task shares with its heartbeat thread: an event-loop tick counter and
 * whether node code is running. Updates are two atomic adds per node call.
 */
export class TaskActivity {
  /** The shared memory, handed to the heartbeat thread. */
  readonly buffer = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
  readonly #cells = new Int32Array(this.buffer);
  #ticker: NodeJS.Timeout | undefined;

  /**
   * Starts bumping the tick counter from the main event loop twice per heartbeat period
   * (`heartbeatMs`), so that every heartbeat of a turning loop sees it move (stops with the process).
   */
  startTicking(heartbeatMs: number): void {
    if (this.#ticker !== undefined) return;
    this.#ticker = setInterval(() => Atomics.add(this.#cells, TICKS, 1), Math.max(1, Math.floor(heartbeatMs / 2)));
    this.#ticker.unref();
  }

  stopTicking(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  /** Whether the main thread is inside node code now. */
  get inNode(): boolean {
    return Atomics.load(this.#cells, IN_NODE) > 0;
  }

  /**
   * Runs `call` (a call into the node's own code) marked as node code until it returns or, when it
   * returns a promise, until that settles: a main thread blocked meanwhile is a busy node. A result
   * that is not a promise comes back as it is, at once: a synchronous node costs its task loop no
   * promise and no microtask turn per item.
   */
  runNodeCode<T>(call: () => T | PromiseLike<T>): T | Promise<T> {
    Atomics.add(this.#cells, IN_NODE, 1);
    let result: T | PromiseLike<T>;
    try {
      result = call();
    } catch (error) {
      this.#leaveNodeCode();
      throw error;
    }
    if (!isPromiseLike(result)) {
      this.#leaveNodeCode();
      return result;
    }
    return this.#settle(result);
  }

  async #settle<T>(pending: PromiseLike<T>): Promise<T> {
    try {
      return await pending;
    } finally {
      this.#leaveNodeCode();
    }
  }

  #leaveNodeCode(): void {
    // Leaving node code restarts the stall clock before the mark drops (the heartbeat thread reads
    // the mark first, then the ticks): a long stay inside node code must not read as a stall
    // outside it in the moment before the event loop's ticker runs again.
    Atomics.add(this.#cells, TICKS, 1);
    Atomics.sub(this.#cells, IN_NODE, 1);
  }
}

/**
 * The heartbeat thread's code, plain JavaScript run with `eval` (no loader, starts in a few ms). It
 * writes whole lines with blocking writes, retrying on EAGAIN, so a line never interleaves with
 * another; it stops writing, silently, once the host's end of the descriptor is gone.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const pause = new Int32Array(new SharedArrayBuffer(4));
let broken = false;
let timer;
function write(text) {
  let bytes = Buffer.from(text);
  while (!broken && bytes.length > 0) {
    try {
      bytes = bytes.subarray(writeSync(workerData.fd, bytes));
    } catch (error) {
      if (error.code === 'EAGAIN') Atomics.wait(pause, 0, 0, 5);
      else broken = true;
    }
  }
}
function startBeating(heartbeatMs, buffer) {
  const cells = new Int32Array(buffer);
  let seen = Atomics.load(cells, 0);
  let changedAt = Date.now();
  const beat = () => {
    // The mark first: the main thread bumps the ticks before it drops the mark.
    const inNode = Atomics.load(cells, 1) > 0;
    const ticks = Atomics.load(cells, 0);
    const now = Date.now();
    if (ticks !== seen) {
      seen = ticks;
      changedAt = now;
    }
    write(JSON.stringify({ v: ${CONTROL_PROTOCOL_VERSION}, type: 'heartbeat', stalledMs: now - changedAt, inNode }) + '\\n');
  };
  beat();
  timer = setInterval(beat, heartbeatMs);
}
parentPort.on('message', (message) => {
  if (message.line !== undefined) write(message.line);
  else if (message.heartbeatMs !== undefined) {
    if (timer === undefined) startBeating(message.heartbeatMs, message.activity);
    parentPort.postMessage('beating');
  } else if (message.close === true) {
    clearInterval(timer);
    parentPort.close();
  }
});
`;

/**
 * A task's heartbeat thread, writing to file descriptor `fd`. It can also carry the main thread's
 * own control lines (`writeLine`): on a descriptor both use, it is then the only writer, so lines
 * never interleave, and lines written before {@link close} leave before the thread ends.
 */
export class HeartbeatThread implements Heartbeats {
  readonly #worker: Worker;
  #beating: Promise<void> | undefined;

  /** @param carriesLines keep the process alive until {@link close} so that queued lines leave */
  constructor(fd: number, carriesLines: boolean) {
    this.#worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { fd }, execArgv: [], stdout: false, stderr: false });
    // Without heartbeats the host takes the task as unresponsive and kills it: say why first.
    this.#worker.on('error', (error) => process.stderr.write(`vf: the heartbeat thread of this task failed: ${String(error)}\n`));
    if (!carriesLines) this.#worker.unref();
  }

  writeLine(line: string): void {
    this.#worker.postMessage({ line });
  }

  /** Starts the heartbeats (once); resolves when the first one has been written. */
  startHeartbeats(heartbeatMs: number, activity: TaskActivity): Promise<void> {
    activity.startTicking(heartbeatMs);
    this.#beating ??= new Promise<void>((resolve) => {
      this.#worker.once('message', () => resolve());
      this.#worker.once('exit', () => resolve());
      this.#worker.postMessage({ heartbeatMs, activity: activity.buffer });
    });
    return this.#beating;
  }

  /** Writes what is queued, then ends the thread. */
  close(): void {
    this.#worker.postMessage({ close: true });
  }
}

/** A task's heartbeats, started once its heartbeat period is known. */
export interface Heartbeats {
  /** Starts the heartbeats (once); resolves when the first one has been written. */
  startHeartbeats(heartbeatMs: number, activity: TaskActivity): Promise<void>;
  /** No heartbeat after the current one. */
  close(): void;
}

/**
 * Heartbeats from a native thread (`native/vfShm.c`): the same lines as {@link HeartbeatThread}'s,
 * with nothing to start before the first one. A worker thread is a second V8 instance: with five
 * tasks starting on two cores, its start-up (~30 ms of CPU each) and the wait for its first
 * heartbeat before `ready` took ~150 ms of a flow's start-up (bench/run.ts start-up).
 */
class NativeHeartbeats implements Heartbeats {
  readonly #fd: number;
  readonly #native: NativeHelper;
  #handle: unknown;

  constructor(fd: number, native: NativeHelper) {
    this.#fd = fd;
    this.#native = native;
  }

  startHeartbeats(heartbeatMs: number, activity: TaskActivity): Promise<void> {
    activity.startTicking(heartbeatMs);
    if (this.#handle === undefined) {
      try {
        this.#handle = this.#native.startHeartbeats(this.#fd, heartbeatMs, new Int32Array(activity.buffer));
      } catch (error) {
        // Without heartbeats the host never watches this task: say why.
        this.#handle = null;
        process.stderr.write(`vf: the heartbeats of this task could not start: ${String(error)}\n`);
      }
    }
    return Promise.resolve();
  }

  close(): void {
    if (this.#handle !== undefined && this.#handle !== null) this.#native.stopHeartbeats(this.#handle);
  }
}

/** `VF_NATIVE_HEARTBEATS=0`: heartbeats from a worker thread even where the native helper was built. */
export const NATIVE_HEARTBEATS_ENV = 'VF_NATIVE_HEARTBEATS';

/**
 * Heartbeats written to `fd`, a descriptor of their own (a forked task's heartbeat pipe): from a
 * native thread where the helper was built, else from a {@link HeartbeatThread}.
 */
export function heartbeatsTo(fd: number, native = process.env[NATIVE_HEARTBEATS_ENV] === '0' ? null : nativeHelper()): Heartbeats {
  // A helper built from another vf's source writes another protocol version: the host would refuse its heartbeats.
  return native?.heartbeatProtocol === CONTROL_PROTOCOL_VERSION ? new NativeHeartbeats(fd, native) : new HeartbeatThread(fd, false);
}

/** What a heartbeat says about the task's main thread. */
export interface HeartbeatReport {
  readonly stalledMs: number;
  readonly inNode: boolean;
}

/**
 * The host's bookkeeping of its tasks' liveness, over an injected clock: the engine reports what it
 * hears, calls {@link check} every heartbeat period, and kills what it returns. A task is watched
 * from its first heartbeat on (a task whose spawner carries no heartbeats is never judged).
 */
export class LivenessWatch<TKey> {
  readonly #timeoutMs: number;
  readonly #periodMs: number;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #heardAt = new Map<TKey, number>();
  #checkedAt: number;

  constructor(timeoutMs: number, clock: Pick<Clock, 'now'>) {
    this.#timeoutMs = timeoutMs;
    this.#periodMs = heartbeatPeriodMs(timeoutMs);
    this.#clock = clock;
    this.#checkedAt = clock.now();
  }

  /**
   * Something arrived from `key` (a heartbeat when `heartbeat` is given). Returns why the task is
   * unresponsive when the heartbeat reports a main thread stuck outside node code for too long.
   */
  heard(key: TKey, heartbeat?: HeartbeatReport): string | undefined {
    if (heartbeat === undefined && !this.#heardAt.has(key)) return undefined;
    this.#heardAt.set(key, this.#clock.now());
    if (heartbeat !== undefined && !heartbeat.inNode && heartbeat.stalledMs > this.#timeoutMs) {
      return `its main thread has been stuck outside node code for ${Math.round(heartbeat.stalledMs)} ms`;
    }
    return undefined;
  }

  /** Stops watching `key` (it finished, died, or was judged). */
  forget(key: TKey): void {
    this.#heardAt.delete(key);
  }

  /**
   * The watched tasks silent for longer than the timeout, with why. When the host itself could not
   * check for a while (its own event loop was blocked), what its tasks sent meanwhile is still
   * unread: every task then gets a fresh period instead of a verdict.
   */
  check(): Array<{ readonly key: TKey; readonly reason: string }> {
    const now = this.#clock.now();
    const hostStalled = now - this.#checkedAt > 2 * this.#periodMs + 100;
    this.#checkedAt = now;
    const verdicts: Array<{ key: TKey; reason: string }> = [];
    for (const [key, heardAt] of this.#heardAt) {
      if (hostStalled) this.#heardAt.set(key, now);
      else if (now - heardAt > this.#timeoutMs) verdicts.push({ key, reason: `nothing came from it for ${Math.round(now - heardAt)} ms` });
    }
    for (const { key } of verdicts) this.#heardAt.delete(key);
    return verdicts;
  }
}
