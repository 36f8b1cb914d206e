/**
 * `@vf/engine-batch`: the multi-process batch engine. Full queues block; nothing is lost; order is kept.
 * @packageDocumentation
 */
export { type BatchEngineOptions, BatchExecutionEngine } from './batchEngine.js';
export { BatchQueueMessenger } from './batchMessenger.js';
