/**
 * Process warnings, printed once. A flow module runs in the host and again in every task process
 * (and node constructors with it), so a warning emitted there would be printed once per process:
 * tasks forward their warnings to the host ({@link forwardProcessWarnings}) and the host prints
 * each distinct one once ({@link emitWarningOnce}).
 */

import { getLogger } from './logging.js';

/** A process warning as it travels from a task to the host. */
export interface WarningRecord {
  /** The warning's type: `Warning`, `DeprecationWarning`, ... */
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

/** Type, code and message of every warning this process has emitted through {@link emitWarningOnce}. */
const emitted = new Set<string>();

/** Set in a task process by {@link forwardProcessWarnings}: where its warnings go instead of its own log. */
let forwarding: ((warning: WarningRecord) => void) | undefined;

/**
 * Logs a warning through the framework's logger (`getLogger().warn`, with `code` and `type`) unless
 * this process has already logged one with the same type, code and message through this function.
 * Every vf warning goes through it, and so does every warning a task forwards to the host.
 */
export function emitWarningOnce(message: string, options: { readonly code?: string; readonly type?: string } = {}): void {
  const type = options.type ?? 'Warning';
  const key = JSON.stringify([type, options.code ?? null, message]);
  if (emitted.has(key)) return;
  emitted.add(key);
  if (forwarding !== undefined) {
    // A task process: the host logs it, once for all the flow's tasks.
    forwarding(options.code === undefined ? { name: type, message } : { name: type, message, code: options.code });
    return;
  }
  getLogger().warn(options.code === undefined ? { type } : { type, code: options.code }, message);
}

/**
 * In a task process: stop printing process warnings (and vf's, from {@link emitWarningOnce}) here
 * and hand each to `forward` instead, so that the host logs it, once for all the flow's tasks. Call it before any flow code runs:
 * it removes every `warning` listener there is (Node's own printer among them).
 */
export function forwardProcessWarnings(forward: (warning: WarningRecord) => void): void {
  forwarding = forward;
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: unknown }) => {
    const { name, message, code } = warning;
    forward(typeof code === 'string' ? { name, message, code } : { name, message });
  });
}
