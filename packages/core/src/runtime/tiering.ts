import { nativeHelper } from '../nativeHelper.js';

/**
 * The V8 option a task process runs its flow under: TurboFan, V8's optimizing compiler, takes a
 * function once it has run ~1 KB of its bytecode a few times over, where V8's default waits for
 * ~66 KB (Node 20). The data path is a few dozen small functions run once per message; under the
 * default, a flow paced at 50 messages/s ran them unoptimized for its first seconds (a function
 * compiled after hundreds of calls), and each hop cost 0.34–0.39 ms; optimized sooner, 0.25–0.28
 * (E3, 250 items through 1 and 8 identity hops; the same hops after 5,000 unpaced warm-up
 * items: 0.24). Unpaced small messages gain ~7 % (52.7–56.5k msg/s against 48.5–52.5k through the
 * bench's 3-task chain), their warm-up being mostly unoptimized code.
 * Set once the task's first item is through, not on the command line: V8 takes Node's and the
 * program's code caches only under the flags they were made with (`native/resetV8Flags.cjs`), and
 * start-up code runs once, so optimizing it sooner only added compile work before the first message.
 */
export const TASK_TIERING_FLAGS = '--interrupt-budget=1024';

/**
 * Emitted on `process` just before a task changes V8's options. `native/loadTaskProgram.cjs`
 * writes the program's code cache then (a cache made after the change would be refused by the
 * next run's tasks, which load under the default flags). The same name is spelled there.
 */
export const BEFORE_V8_FLAGS_CHANGE_EVENT = 'vf:beforeV8FlagsChange';

/**
 * Makes V8 optimize this task's hot code sooner ({@link TASK_TIERING_FLAGS}); called once, when the
 * task's first item is through. Through the native helper; where it is not built, V8's defaults stay
 * (`node:v8` would load its streams, uncached, in the middle of the flow).
 */
export function optimizeHotCodeSooner(): void {
  const native = nativeHelper();
  if (native === null) return;
  process.emit(BEFORE_V8_FLAGS_CHANGE_EVENT as 'exit', 0);
  native.resetV8Flags(TASK_TIERING_FLAGS);
}
