/**
 * `@vf/core` for flow authors: nodes, flows, the in-process engine and the error family.
 * Engine authors use `@vf/core/engine`; ready-made nodes are in `@vf/core/nodes`.
 * @packageDocumentation
 */
export type { Device } from './contracts/deviceAllocator.js';
export type { ExecutionEngine, JoinGroupCounts } from './contracts/engine.js';
export type { MessageMetadata } from './contracts/messenger.js';
export { type DeadLetter, readDeadLetters } from './deadLetters/readDeadLetters.js';
export {
  AllocationError,
  deserializeError,
  FlowValidationCode,
  FlowValidationError,
  isVfError,
  type SerializedError,
  serializeError,
  TaskFailedError,
  ValueError,
  ValueErrorCode,
  VfError,
  type VfErrorOptions,
} from './errors.js';
export { defineFlow, type FlowDefinition, isFlowDefinition, type JsonValue } from './flow/defineFlow.js';
export { Flow, type RunOptions } from './flow/flow.js';
export type { LiveNodeStats, LiveStats } from './flow/liveStats.js';
export type { MetricsOptions } from './flow/metricsServer.js';
export { type EdgeReport, type FlowReport, formatReport, type LostTaskReport, type NodeReport } from './flow/report.js';
export type { FlowGraph } from './graph/validateGraph.js';
export { InProcessEngine, type InProcessEngineOptions } from './inProcess/inProcessEngine.js';
export {
  configureLogging,
  getLogger,
  LOG_FORMAT_ENV,
  LOG_LEVEL_ENV,
  LOG_LEVELS,
  type LogFormat,
  type LoggingOptions,
  type LogLevel,
} from './logging.js';
export { ConsumerNode, type ConsumerOptions } from './nodes/consumerNode.js';
export { MAX_BACKOFF_MS, MAX_RETRIES, type OnError, type OnErrorRetry } from './nodes/errorPolicy.js';
export { FunctionProcessorNode } from './nodes/functionProcessorNode.js';
export type { JoinCollect, TimeJoinOptions } from './nodes/joinOptions.js';
export { type DeviceType, Node, type NodeKind, type NodeOptions } from './nodes/node.js';
export { OneTaskProcessorNode, ProcessorNode, type ProcessorOptions } from './nodes/processorNode.js';
export { type ProduceContext, ProducerNode, type ProducerOptions } from './nodes/producerNode.js';
export { TaskModuleNode, type TaskModuleOptions } from './nodes/taskModuleNode.js';
export { isTimestamped, type Timestamped, timestamped } from './nodes/timestamped.js';
export { registerValueType, type ValueTypeDefinition } from './wire/valueTypes.js';
