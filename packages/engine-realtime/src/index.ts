/**
 * `@vf/engine-realtime`: the multi-process realtime engine. Full queues drop stale data so that
 * consumers see the freshest; termination is never dropped; nothing is delivered out of order.
 * @packageDocumentation
 */
export { type RealtimeEngineOptions, RealtimeExecutionEngine } from './realtimeEngine.js';
export { RealtimeQueueMessenger } from './realtimeMessenger.js';
