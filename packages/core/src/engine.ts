/**
 * `@vf/core/engine` for engine authors: the ports (`ExecutionEngine`, `Messenger`,
 * `DeviceAllocator`), the execution plan, and the runtime pieces every engine shares (task loop,
 * input alignment). Semantics live here once; an engine chooses where tasks run and how queues behave.
 * @packageDocumentation
 */
export {
  cpuOnlyAllocator,
  type Device,
  type DeviceAllocator,
  type DevicePlacement,
  defaultGpuAllocator,
  registerDefaultGpuAllocator,
} from './contracts/deviceAllocator.js';
export type { EdgeFailures, ExecutionEngine, TaskOutcome, TaskProgress, TaskStats, TaskStatus } from './contracts/engine.js';
export type { EdgeDrops, EndReason, Envelope, InputSet, MessageMetadata, Messenger, RawMessage } from './contracts/messenger.js';
export type { Launcher, Spawner, SpawnRequest, TaskProcess } from './contracts/spawner.js';
export { buildReport, type ReportInput } from './flow/report.js';
export { type TopologicalOrder, topologicalSort } from './graph/topologicalSort.js';
export { type FlowGraph, validateGraph } from './graph/validateGraph.js';
export { RUN_ID_ENV, type TaskLogTags, tagTaskLogs, taskLoggingEnv } from './logging.js';
export type { TimeJoinSpec } from './nodes/joinOptions.js';
export {
  buildExecutionPlan,
  type ExecutionPlan,
  type FlowSource,
  type PlannedNode,
  planNodes,
  type TaskSpec,
} from './plan/executionPlan.js';
export { type Clock, systemClock } from './runtime/clock.js';
export {
  CONTROL_FDS_ENV,
  type ControlChannel,
  type ControlFds,
  defaultControlChannel,
  pipeControlChannel,
  stdioControlChannel,
} from './runtime/controlChannel.js';
export {
  CONTROL_PROTOCOL_VERSION,
  type HostMessage,
  parseHostMessage,
  parseTaskMessage,
  type TaskInit,
  type TaskMessage,
  type TransportSettings,
} from './runtime/controlProtocol.js';
export { forkSpawner, TASK_OUTPUT_PREFIX_ENV, taskNodeArguments } from './runtime/forkSpawner.js';
export {
  type AlignmentPolicy,
  EdgeBuffer,
  InputAligner,
  type ReleaseKind,
  type ReleaseListener,
  routeBySeq,
  type SeqRoute,
} from './runtime/inputAligner.js';
export { type SrunLauncherOptions, srunLauncher } from './runtime/launchers/srunLauncher.js';
export { type SshLauncherOptions, sshLauncher } from './runtime/launchers/sshLauncher.js';
export { stdioTaskProcess } from './runtime/launchers/stdioTaskProcess.js';
export { MessengerBase } from './runtime/messengerBase.js';
export type { Placement } from './runtime/placement.js';
export { type MessengerModule, type ProcessEngineOptions, ProcessExecutionEngine } from './runtime/processEngine.js';
export { RUN_OWNER_FILE } from './runtime/runOwner.js';
export { SWEEP_STALE_RUNS_ENV } from './runtime/staleRuns.js';
export { EMPTY_TASK_STATS, runTask, STATS_INTERVAL_MS, type TaskRunOptions } from './runtime/taskLoop.js';
export {
  convergingParents,
  createNodeAligner,
  eventTime,
  type NodeAligner,
  type NodeAlignerOptions,
  type SkippedCounts,
  TimeAligner,
  timeJoinAlignerOptions,
} from './runtime/timeAligner.js';
export { AbortedError, type Deferred, deferred, isAborted, Mutex, Notifier, sleep } from './runtime/waiting.js';
export { type CurveKeys, generateCurveKeys } from './transport/curve.js';
export { RING_BELL_ENV } from './transport/ringBell.js';
export {
  createSharedDirectory,
  nativeSharedMemory,
  removeSharedDirectory,
  SHARED_FRAME_MIN_BYTES,
  SHARED_POOL_MAX_BYTES,
  SHARED_STATS_ENV,
  SharedFrameReader,
  SharedFrameSender,
  type SharedFrameSenderOptions,
  type SharedFrameStats,
} from './transport/sharedFrames.js';
export { RING_BYTES, RING_STATS_ENV, type RingStats } from './transport/sharedRing.js';
export { ChildLink, ReplicaLink, routesBySeq, type SentMessage, ZmqMessenger } from './transport/zmqMessenger.js';
export { emitWarningOnce, forwardProcessWarnings, type WarningRecord } from './warnings.js';
export {
  DTYPES,
  type Dtype,
  decodeValue,
  encodeValue,
  MAX_DEPTH,
  MAX_FRAME_BYTES,
  MAX_HEADER_BYTES,
  packHeader,
  STRING_INLINE_MAX,
  unpackHeader,
  WireError,
} from './wire/codec.js';
export { type DataHeader, type DataHeaderFields, packDataHeader, parseDataHeader } from './wire/dataHeader.js';
