import type { EventEmitter } from 'node:events';
import { nativeHelper } from '../nativeHelper.js';

/**
 * `1`: a task process makes V8 optimize its hot code sooner once its first item is through
 * ({@link TASK_TIERING_FLAGS}). Opt-in, for long-running paced flows where latency counts.
 *
 * What it does: TurboFan, V8's optimizing compiler, takes a function once it has run ~1 KB of its
 * bytecode a few times over, where V8's default waits for ~66 KB (Node 20). The data path is a few
 * dozen small functions run once per message; under the default, a flow paced at 50 messages/s
 * ran them unoptimized for its first seconds, and each hop cost 0.34–0.38 ms; with this, 0.26–0.29
 * (E3, 250 items through 1 and 8 identity hops, three alternating pairs; the same hops after 5,000
 * unpaced warm-up items: 0.24). In a slower phase of the same VM: 0.36–0.43 against 0.33–0.39
 * (four pairs).
 *
 * Why not by default: every task then compiles most of what it has run, ~100–200 ms of CPU right
 * after its first item. The first items wait for it (E3's p95 through 8 hops: 4.7–8.5 ms without,
 * 28–42 with), and short or many-task runs pay for it: 300 frames through the bench's 3-task chain
 * went from 1.97× to 0.81× raw ZeroMQ (CPU per frame 2.1 → 4.7 ms), and E2 at 8 replicas from
 * 7.72× to 6.44× (one run each, same session).
 *
 * Set after the first item, not on the command line: V8 takes Node's and the program's code caches
 * only under the flags they were made with (`native/taskPreload.cjs`), and start-up code runs once.
 */
export const EAGER_OPTIMIZATION_ENV = 'VF_EAGER_OPTIMIZATION';

/** The V8 option set by {@link EAGER_OPTIMIZATION_ENV}. */
export const TASK_TIERING_FLAGS = '--interrupt-budget=1024';

/**
 * Emitted on `process` just before a task changes V8's options. `native/loadTaskProgram.cjs`
 * writes the program's code cache then (a cache made after the change would be refused by the
 * next run's tasks, which load under the default flags). The same name is spelled there.
 */
export const BEFORE_V8_FLAGS_CHANGE_EVENT = 'vf:beforeV8FlagsChange';

/**
 * With {@link EAGER_OPTIMIZATION_ENV} `1`, makes V8 optimize this task's hot code sooner; called
 * once, when the task's first item is through. Through the native helper; where it is not built,
 * V8's defaults stay (`node:v8` would load its streams, uncached, in the middle of the flow).
 */
export function optimizeHotCodeSooner(): void {
  if (process.env[EAGER_OPTIMIZATION_ENV] !== '1') return;
  const native = nativeHelper();
  if (native === null) return;
  // Node's typings list only Node's own events on `process`; it is an EventEmitter like any other.
  const events: EventEmitter = process;
  events.emit(BEFORE_V8_FLAGS_CHANGE_EVENT);
  native.resetV8Flags(TASK_TIERING_FLAGS);
}
