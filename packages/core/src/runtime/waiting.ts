import { VfError } from '../errors.js';
import { nativeHelper } from '../nativeHelper.js';

/**
 * The longest delay a Node timer honours: `setTimeout` fires a longer one after 1 ms, with a
 * `TimeoutOverflowWarning`.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Thrown out of a wait when the flow aborts it (another task failed). */
export class AbortedError extends VfError {
  constructor(reason = 'the flow was aborted') {
    super('ABORTED', reason);
    this.name = 'AbortedError';
  }
}

/** True when `error` is the abort of a wait, not a failure of its own. */
export function isAborted(error: unknown): boolean {
  return error instanceof AbortedError;
}

/** Wakes every waiter on `notify()`. Waits reject with {@link AbortedError} when `signal` aborts. */
export class Notifier {
  #waiters: Waiter[] = [];

  notify(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const waiter of waiters) {
      waiter.bound?.remove(waiter);
      waiter.resolve();
    }
  }

  wait(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    return new Promise<void>((resolve, reject) => {
      const bound = signal === undefined ? undefined : waitsBoundBy(signal);
      const waiter: Waiter = { resolve, reject, bound, slot: -1 };
      bound?.add(waiter);
      this.#waiters.push(waiter);
    });
  }
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: AbortedError) => void;
  /** The pending waits of its signal, if it has one (see {@link waitsBoundBy}). */
  readonly bound: BoundWaits | undefined;
  /** Its index in `bound`; -1 when in none (no signal, or rejected by it). */
  slot: number;
}

/**
 * The pending waits one signal bounds, in an array that each waiter knows its index in: a wait
 * that ends moves the last one into its place. A `Set` did this before; every `delete` that left it
 * empty made V8 allocate a new hash table for it, and V8 allocates that table in the old generation
 * once the set lives there. A task waits once per wake-up, so its old generation filled with dead
 * tables: 5.1 of the 12.8 MB that a relay's sampling heap profile kept over a soak (objects live, or
 * dead in major collections); the relay's RSS grew 1.16× over the soak, 1.08× without this churn
 * (1.05× once the engines' policies lost theirs too). An array keeps its backing store.
 */
class BoundWaits {
  readonly #waiters: Waiter[] = [];

  add(waiter: Waiter): void {
    waiter.slot = this.#waiters.length;
    this.#waiters.push(waiter);
  }

  /** Takes out `waiter` (a no-op once {@link rejectAll} has). */
  remove(waiter: Waiter): void {
    if (waiter.slot < 0) return;
    const last = this.#waiters.pop() as Waiter;
    if (last !== waiter) {
      this.#waiters[waiter.slot] = last;
      last.slot = waiter.slot;
    }
    waiter.slot = -1;
  }

  rejectAll(): void {
    for (const waiter of this.#waiters.splice(0)) {
      waiter.slot = -1;
      waiter.reject(new AbortedError());
    }
  }
}

/** Per signal, the waits it bounds that are still pending. */
const pendingBySignal = new WeakMap<AbortSignal, BoundWaits>();

/**
 * The pending waits `signal` bounds, rejected all together when it aborts: one `abort` listener per
 * signal, however many notifiers and waits use it. A listener per wait, added and removed in Node's
 * `EventTarget` (JavaScript), cost a paced hop's wake-up 33–50 µs of its ~400 µs (traced per step),
 * and a listener kept per notifier would pass Node's limit of 10 per signal (a warning) in a flow
 * of a dozen edges.
 */
function waitsBoundBy(signal: AbortSignal): BoundWaits {
  const known = pendingBySignal.get(signal);
  if (known !== undefined) return known;
  const pending = new BoundWaits();
  pendingBySignal.set(signal, pending);
  signal.addEventListener('abort', () => pending.rejectAll(), { once: true });
  return pending;
}

/** Sleeps `ms`, resolving early (not rejecting) when `signal` aborts: callers re-check their state. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    // A longer wait than one timer can take (a producer at fps 1e-7) is several timers in a row.
    const wait = (left: number) => {
      timer = left > MAX_TIMER_MS ? setTimeout(() => wait(left - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(done, left);
    };
    wait(ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Serialises async sections: `run(fn)` starts `fn` once every earlier section has settled. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(section, section);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** A promise with its settle functions, for gates opened from elsewhere (ready handshakes, exits). */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

/**
 * Creates a {@link Deferred}. Its promise never reports an unhandled rejection: a gate rejected
 * before anyone awaits it (a task failing while others still open) is expected.
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Tells a loop that may never await anything slow (a synchronous producer) when it is starving the
 * event loop, so that it can let one turn run: credits, stop requests, timers and the other tasks
 * of an in-process flow all need it. Asked after every input of every task loop.
 */
export interface StarvationWatch {
  /** True when the event loop has not completed a turn for the watch's `maxBusyMs`: then call {@link turn}. */
  starving(): boolean;
  /** Resolves after one turn of the event loop (timers, I/O, then the check phase). */
  turn(): Promise<void>;
}

function oneTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A {@link StarvationWatch} in JavaScript: it costs one timestamp per call and at most one
 * `setImmediate` per event-loop turn, so a loop that yields on its own is not slowed down. Where
 * the native helper can, {@link LoopTurnWatch} does it for less.
 */
export class EventLoopWatch implements StarvationWatch {
  readonly #maxBusyMs: number;
  readonly #now: () => number;
  /** When the pending marker was scheduled, or when the last one ran. */
  #since: number;
  #markerPending = false;

  /** @param maxBusyMs longest the loop may go without a turn before {@link starving} says so */
  constructor(maxBusyMs = MAX_BUSY_MS, now: () => number = () => performance.now()) {
    this.#maxBusyMs = maxBusyMs;
    this.#now = now;
    this.#since = now();
  }

  /**
   * True when the event loop has not completed a turn for `maxBusyMs`: a marker scheduled with
   * `setImmediate` that long ago has not run yet. Then call {@link turn}.
   */
  starving(): boolean {
    if (this.#markerPending) return this.#now() - this.#since > this.#maxBusyMs;
    this.#markerPending = true;
    this.#since = this.#now();
    setImmediate(() => {
      this.#markerPending = false;
      this.#since = this.#now();
    });
    return false;
  }

  turn(): Promise<void> {
    return oneTurn();
  }
}

/**
 * A {@link StarvationWatch} over the native helper's count of the event loop's turns
 * (`watchLoopTurns`: a check handle, no JavaScript per turn). A loop that turned since the last
 * question costs one load and no clock; only a loop that did not reads the clock. The marker of
 * {@link EventLoopWatch} cost a paced hop a `setImmediate`, its callback and a timestamp, all run
 * cold after the idle wait (`perf`, an 8-hop E3 chain: ~55 µs of CPU per hop, ~29 of them before
 * its output left).
 */
export class LoopTurnWatch implements StarvationWatch {
  readonly #maxBusyMs: number;
  readonly #now: () => number;
  /** `[turns, when the last one came]`, written by the loop (the clock of {@link #now}). */
  readonly #turns: Float64Array;
  #seenTurns = -1;

  /**
   * @param turns the count of the loop's turns and the time of the last one, in ms of `now`
   * @param now the clock `turns` is written in
   */
  constructor(turns: Float64Array, now: () => number, maxBusyMs = MAX_BUSY_MS) {
    this.#turns = turns;
    this.#now = now;
    this.#maxBusyMs = maxBusyMs;
  }

  starving(): boolean {
    const turns = this.#turns[0] as number;
    // A turn since the last question: its time is before this one's, as a marker's would be.
    if (turns !== this.#seenTurns) {
      this.#seenTurns = turns;
      return false;
    }
    return this.#now() - (this.#turns[1] as number) > this.#maxBusyMs;
  }

  turn(): Promise<void> {
    return oneTurn();
  }
}

/** The longest a task loop goes without letting the event loop turn. */
const MAX_BUSY_MS = 4;

/** libuv's clock (`uv_hrtime`), in ms: what the native helper stamps the loop's turns with. */
function hrtimeMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

let processWatch: StarvationWatch | undefined;

/**
 * The process's watch (every task loop of a process starves the same event loop): a
 * {@link LoopTurnWatch} where the native helper has `watchLoopTurns`, else an {@link EventLoopWatch}.
 */
export function eventLoopWatch(): StarvationWatch {
  if (processWatch !== undefined) return processWatch;
  const watchLoopTurns = nativeHelper()?.watchLoopTurns;
  processWatch = watchLoopTurns === undefined ? new EventLoopWatch() : new LoopTurnWatch(new Float64Array(watchLoopTurns()), hrtimeMs);
  return processWatch;
}

/** Whether `value` is a promise or any other thenable (what `await` would wait for). */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as Partial<PromiseLike<T>>).then === 'function'
  );
}
