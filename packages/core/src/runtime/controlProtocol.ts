import { z } from 'zod';
import type { TaskOutcome, TaskStats } from '../contracts/engine.js';
import type { SerializedError } from '../errors.js';
import { timeJoinSpecSchema } from '../nodes/joinOptions.js';
import { DEVICE_DETAIL_MAX_LENGTH } from '../nodes/node.js';
import type { FlowSource, PlannedNode, TaskSpec } from '../plan/executionPlan.js';
import type { CurveKeys } from '../transport/curve.js';
import type { WarningRecord } from '../warnings.js';

/**
 * The control protocol between the host (the process that called `flow.run`) and each task
 * process: a discriminated union per direction, versioned, and checked on receipt. It is separate
 * from the data path (ZeroMQ) and carries no user data.
 */
export const CONTROL_PROTOCOL_VERSION = 1;

/** Which end of an edge binds: tasks bind their inbound socket here. */
export interface TransportSettings {
  /** `ipc` (one host; sockets in a per-flow temporary directory) or `tcp` (loopback or other hosts). */
  readonly kind: 'ipc' | 'tcp';
  /**
   * Where every task binds its inbound socket, by task id. A `tcp://address:*` lets the task's
   * machine pick the port: the task reports the endpoint it got (`bound`), and the host sends every
   * task the table of actual endpoints (`endpoints`) before any task connects.
   */
  readonly endpoints: readonly string[];
  /** The run's CURVE key pair when the data path is encrypted (see `transport/curve.ts`). */
  readonly curve?: CurveKeys;
  /**
   * The per-run secret (64 hex digits) with which a task proves, in its hello, that it belongs to
   * the run (see `transport/helloProof.ts`). Only ever sent here, over the control channel.
   */
  readonly runSecret: string;
}

/** Everything a task process needs to run its task. */
export interface TaskInit {
  readonly task: TaskSpec;
  readonly nodes: readonly PlannedNode[];
  readonly tasks: readonly TaskSpec[];
  readonly source: FlowSource;
  readonly transport: TransportSettings;
  readonly queueSize: number;
  /**
   * Re-dispatch after a replica dies: senders keep what they sent to a replicated node until its
   * output is taken downstream, and re-send it to the surviving replicas when the host reports the
   * replica lost. Receivers drop the duplicates this can create.
   */
  readonly restartOnFailure: boolean;
  /**
   * The run's shared-memory directory (mode 0700, unguessable name, removed with the run): large
   * frames to and from tasks on this host travel through it (`transport/sharedFrames.ts`). Absent
   * when the run does not use shared memory (`sharedMemory: false`, tcp, no tmpfs).
   */
  readonly sharedMemory?: { readonly directory: string };
  /** Module and export of the engine's messenger class (the engine's queue policy). */
  readonly messenger: { readonly moduleUrl: string; readonly exportName: string };
  /** Period of the task's `heartbeat` messages, in ms (a fifth of the engine's `livenessTimeoutMs`). */
  readonly heartbeatMs: number;
}

/** Host → task. */
export type HostMessage =
  | { readonly v: 1; readonly type: 'init'; readonly init: TaskInit }
  | { readonly v: 1; readonly type: 'start' }
  /** The actual inbound endpoint of every task, by task id, once all are bound: connect to these. */
  | { readonly v: 1; readonly type: 'endpoints'; readonly endpoints: readonly string[] }
  | { readonly v: 1; readonly type: 'stop' }
  | { readonly v: 1; readonly type: 'abort'; readonly reason: string }
  /** Task `taskId` (a child of the receiver) finished: it needs nothing more, its end acknowledgement included. */
  | { readonly v: 1; readonly type: 'peerDone'; readonly taskId: number }
  /** Task `taskId` (a parent or child of the receiver) died and the flow goes on without it (`restartOnFailure`). */
  | { readonly v: 1; readonly type: 'peerLost'; readonly taskId: number };

/** Task → host. */
export type TaskMessage =
  /**
   * The first message, sent before `init` arrives: the task's pid on its own machine, so that a
   * launcher can kill the task there even when it hangs in synchronous code before it is ready.
   */
  | { readonly v: 1; readonly type: 'hello'; readonly pid: number }
  /** The task bound its inbound socket here (absent: it has none, a producer). */
  | { readonly v: 1; readonly type: 'bound'; readonly endpoint?: string }
  | { readonly v: 1; readonly type: 'ready'; readonly pid: number }
  | { readonly v: 1; readonly type: 'started' }
  | { readonly v: 1; readonly type: 'error'; readonly error: SerializedError }
  /**
   * Proof of life from the task's heartbeat thread (see `runtime/liveness.ts`), every `heartbeatMs`
   * even while the main thread is blocked: how long the main event loop has not turned, and whether
   * the main thread is in node code (busy) rather than in the runtime.
   */
  | { readonly v: 1; readonly type: 'heartbeat'; readonly stalledMs: number; readonly inNode: boolean }
  /** The task's counters so far, sent periodically while its loop runs (live monitoring). */
  | { readonly v: 1; readonly type: 'stats'; readonly stats: TaskStats }
  /** A process warning emitted in the task; the host prints each distinct one once. */
  | { readonly v: 1; readonly type: 'warning'; readonly warning: WarningRecord }
  | { readonly v: 1; readonly type: 'done'; readonly outcome: TaskOutcome };

const serializedError: z.ZodType<SerializedError> = z.lazy(() =>
  z.object({
    name: z.string(),
    message: z.string(),
    code: z.string().optional(),
    stack: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
    cause: serializedError.optional(),
  }),
);

const device = z.string().regex(/^(cpu|gpu:\d+)$/) as unknown as z.ZodType<TaskSpec['device']>;

const taskSpec = z.object({
  id: z.number().int().nonnegative(),
  nodeIndex: z.number().int().nonnegative(),
  nodeName: z.string(),
  taskIndex: z.number().int().nonnegative(),
  nbTasks: z.number().int().positive(),
  device,
  env: z.record(z.string(), z.string()),
});

const plannedNode = z.object({
  index: z.number().int().nonnegative(),
  name: z.string(),
  kind: z.enum(['producer', 'processor', 'consumer']),
  parents: z.array(z.number().int().nonnegative()),
  children: z.array(z.number().int().nonnegative()),
  nbTasks: z.number().int().positive(),
  deviceType: z.enum(['cpu', 'gpu']),
  requiresGpu: z.boolean(),
  gpuMemoryMb: z.number().positive().optional(),
  fps: z.number().positive().optional(),
  wantsMetadata: z.boolean().optional(),
  join: timeJoinSpecSchema.optional(),
});

const taskStats = z.object({
  received: z.number(),
  emitted: z.number(),
  dropped: z.number(),
  drops: z.array(z.object({ from: z.string(), to: z.string(), count: z.number() })),
  processed: z.number(),
  proctimeTotalMs: z.number(),
  activeMs: z.number(),
  joins: z.object({ complete: z.number(), partial: z.number(), dropped: z.number() }).optional(),
  rejected: z.number().optional(),
  failed: z.number().optional(),
  deadLettered: z.number().optional(),
  retried: z.number().optional(),
  failures: z.array(z.object({ from: z.string(), to: z.string(), failed: z.number(), deadLettered: z.number() })).optional(),
  deviceDetail: z.string().max(DEVICE_DETAIL_MAX_LENGTH).optional(),
});

const z85Key = z.string().regex(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/);

const hostMessage = z.discriminatedUnion('type', [
  z.object({
    v: z.literal(1),
    type: z.literal('init'),
    init: z.object({
      task: taskSpec,
      nodes: z.array(plannedNode),
      tasks: z.array(taskSpec),
      source: z.object({ moduleUrl: z.string(), params: z.unknown() }),
      transport: z.object({
        kind: z.enum(['ipc', 'tcp']),
        endpoints: z.array(z.string()),
        curve: z.object({ publicKey: z85Key, secretKey: z85Key }).optional(),
        runSecret: z.string().regex(/^[0-9a-f]{64}$/),
      }),
      queueSize: z.number().int().positive(),
      restartOnFailure: z.boolean(),
      sharedMemory: z.object({ directory: z.string().min(1) }).optional(),
      messenger: z.object({ moduleUrl: z.string(), exportName: z.string() }),
      heartbeatMs: z.number().int().positive(),
    }),
  }),
  z.object({ v: z.literal(1), type: z.literal('start') }),
  z.object({ v: z.literal(1), type: z.literal('endpoints'), endpoints: z.array(z.string()) }),
  z.object({ v: z.literal(1), type: z.literal('stop') }),
  z.object({ v: z.literal(1), type: z.literal('abort'), reason: z.string() }),
  z.object({ v: z.literal(1), type: z.literal('peerDone'), taskId: z.number().int().nonnegative() }),
  z.object({ v: z.literal(1), type: z.literal('peerLost'), taskId: z.number().int().nonnegative() }),
]);

const taskMessage = z.discriminatedUnion('type', [
  z.object({ v: z.literal(1), type: z.literal('hello'), pid: z.number().int().positive() }),
  z.object({ v: z.literal(1), type: z.literal('bound'), endpoint: z.string().optional() }),
  z.object({ v: z.literal(1), type: z.literal('ready'), pid: z.number().int() }),
  z.object({ v: z.literal(1), type: z.literal('started') }),
  z.object({ v: z.literal(1), type: z.literal('heartbeat'), stalledMs: z.number().nonnegative(), inNode: z.boolean() }),
  z.object({ v: z.literal(1), type: z.literal('error'), error: serializedError }),
  z.object({ v: z.literal(1), type: z.literal('stats'), stats: taskStats }),
  z.object({
    v: z.literal(1),
    type: z.literal('warning'),
    warning: z.object({ name: z.string(), message: z.string(), code: z.string().optional() }),
  }),
  z.object({
    v: z.literal(1),
    type: z.literal('done'),
    outcome: z.object({
      taskId: z.number().int(),
      nodeName: z.string(),
      taskIndex: z.number().int(),
      device,
      status: z.enum(['completed', 'stopped', 'failed', 'aborted']),
      stats: taskStats,
      error: serializedError.optional(),
    }),
  }),
]);

/** Checks a message received by a task. Throws a descriptive error when it is not a valid {@link HostMessage}. */
export function parseHostMessage(value: unknown): HostMessage {
  return checked(hostMessage, value, 'host') as HostMessage;
}

/** Checks a message received by the host. Throws a descriptive error when it is not a valid {@link TaskMessage}. */
export function parseTaskMessage(value: unknown): TaskMessage {
  return checked(taskMessage, value, 'task') as TaskMessage;
}

function checked(schema: z.ZodType, value: unknown, from: string): unknown {
  const version = (value as { v?: unknown } | null)?.v;
  if (version !== CONTROL_PROTOCOL_VERSION) {
    throw new Error(`control message from ${from} has protocol version ${String(version)}, expected ${CONTROL_PROTOCOL_VERSION}`);
  }
  // Without zod's compiled fast path: each message type arrives a few times a second at most, and
  // compiling it (`new Function`, per schema, per process) cost every task ~8 ms of its start-up.
  const result = schema.safeParse(value, { jitless: true });
  if (!result.success) throw new Error(`invalid control message from ${from}: ${result.error.message}`);
  return result.data;
}

/**
 * The pid a task reported in its `hello`, for launchers that carry the control channel (they see
 * every message before the host checks it); undefined for any other message.
 */
export function helloPid(value: unknown): number | undefined {
  const message = value as { v?: unknown; type?: unknown; pid?: unknown } | null;
  if (message?.v !== CONTROL_PROTOCOL_VERSION || message.type !== 'hello') return undefined;
  return Number.isSafeInteger(message.pid) && (message.pid as number) > 0 ? (message.pid as number) : undefined;
}
