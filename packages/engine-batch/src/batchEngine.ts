import { type MessengerModule, type ProcessEngineOptions, ProcessExecutionEngine } from '@vf/core/engine';

/** Options of {@link BatchExecutionEngine}. */
export type BatchEngineOptions = ProcessEngineOptions;

// Task processes import the messenger by URL: the `.ts` source in development, the build otherwise.
const messengerUrl = new URL(import.meta.url.endsWith('.ts') ? './batchMessenger.ts' : './batchMessenger.js', import.meta.url);

/**
 * Runs every task in its own OS process, wired by ZeroMQ, with the batch contract: a full queue
 * blocks its publisher, nothing is dropped, every input reaches every consumer exactly once, and
 * the outputs of a replicated processor leave in input order.
 *
 * @example
 * ```ts
 * const flow = await Flow.load(new URL('./flows/detect.ts', import.meta.url), { video: 'in.mp4' });
 * await flow.run(new BatchExecutionEngine({ queueSize: 4 }));
 * const report = await flow.join();
 * ```
 */
export class BatchExecutionEngine extends ProcessExecutionEngine {
  protected readonly messengerModule: MessengerModule = { moduleUrl: messengerUrl.href, exportName: 'BatchQueueMessenger' };

  constructor(options: BatchEngineOptions = {}) {
    super(options);
  }
}
