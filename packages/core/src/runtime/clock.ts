/** Time sources the runtime reads; injectable so timing logic is testable. */
export interface Clock {
  /** Monotonic milliseconds, for durations. */
  now(): number;
  /** Wall-clock epoch milliseconds, comparable across processes on one host. */
  epochNow(): number;
}

/** The production clock: `performance.now()` and `Date.now()`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  epochNow: () => Date.now(),
};
