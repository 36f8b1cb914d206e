import { FlowValidationError } from '@vf/core';
import { type MessengerModule, type ProcessEngineOptions, ProcessExecutionEngine } from '@vf/core/engine';

/**
 * Options of {@link RealtimeExecutionEngine}. No `restartOnFailure`: re-sending a dead replica's
 * items would deliver stale data late; realtime lets them go, like any other drop.
 */
export interface RealtimeEngineOptions extends Omit<ProcessEngineOptions, 'restartOnFailure'> {
  /**
   * Messages a task may hold per sender before the sender drops stale ones. Default 1: a task
   * holds the next message while it works on the current one, so what it takes is at most one
   * processing time old. Raise it to absorb network jitter (tcp), at the cost of latency.
   */
  readonly queueSize?: number;
}

// Task processes import the messenger by URL: the `.ts` source in development, the build otherwise.
const messengerUrl = new URL(import.meta.url.endsWith('.ts') ? './realtimeMessenger.ts' : './realtimeMessenger.js', import.meta.url);

/**
 * Runs every task in its own OS process, wired by ZeroMQ, with the realtime contract: a full queue
 * never blocks its publisher, stale data is dropped so that consumers see the freshest items (drops
 * are counted per node and edge in the report), outputs are never delivered older than one already
 * delivered, and the end of the stream is never dropped. For live sources (cameras) where latency
 * matters more than completeness; use `@vf/engine-batch` when every item counts.
 *
 * @example
 * ```ts
 * const flow = await Flow.load(new URL('./flows/camera.ts', import.meta.url), { fps: 30 });
 * await flow.run(new RealtimeExecutionEngine());
 * setTimeout(() => flow.stop(), 10_000);
 * console.log(String(await flow.join())); // the dropped column shows what was skipped
 * ```
 */
export class RealtimeExecutionEngine extends ProcessExecutionEngine {
  protected readonly messengerModule: MessengerModule = { moduleUrl: messengerUrl.href, exportName: 'RealtimeQueueMessenger' };

  constructor(options: RealtimeEngineOptions = {}) {
    if ((options as ProcessEngineOptions).restartOnFailure === true) {
      throw new FlowValidationError(
        'INVALID_OPTION',
        'RealtimeExecutionEngine: restartOnFailure is a batch option (re-sent items would arrive stale); use BatchExecutionEngine for it',
      );
    }
    super({ ...options, queueSize: options.queueSize ?? 1 });
  }
}
