import type { TaskOutcome, TaskStats } from '../contracts/engine.js';
import { describeReceived, describeValue, type SerializedError, VfError } from '../errors.js';
import { DEVICE_DETAIL_MAX_LENGTH } from '../nodes/node.js';
import type { FlowSource, PlannedNode, TaskSpec } from '../plan/executionPlan.js';
import type { CurveKeys } from '../transport/curve.js';
import type { WarningRecord } from '../warnings.js';
import type { QueueWait } from './queueDeadlock.js';

/**
 * The control protocol between the host (the process that called `flow.run`) and each task
 * process: a discriminated union per direction, versioned, and checked on receipt. It is separate
 * from the data path (ZeroMQ) and carries no user data. A message that fails its check is a
 * {@link VfError} `INVALID_CONTROL_MESSAGE`.
 */
export const CONTROL_PROTOCOL_VERSION = 6;

/**
 * The version field of every control message ({@link CONTROL_PROTOCOL_VERSION}). It also stands for
 * the data path's wire format (envelopes, data headers, rings): a change there bumps it, so that a
 * task running another vf fails at its first control message, with a message that says so, rather
 * than on its first data message (the wire format's own test pins the format to the version).
 */
type Version = typeof CONTROL_PROTOCOL_VERSION;

/** A control message as its sender writes it: the sending side adds {@link CONTROL_PROTOCOL_VERSION}, in one place. */
export type Unversioned<Message> = Message extends unknown ? Omit<Message, 'v'> : never;

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
  | { readonly v: Version; readonly type: 'init'; readonly init: TaskInit }
  | { readonly v: Version; readonly type: 'start' }
  /** The actual inbound endpoint of every task, by task id, once all are bound: connect to these. */
  | { readonly v: Version; readonly type: 'endpoints'; readonly endpoints: readonly string[] }
  | { readonly v: Version; readonly type: 'stop' }
  | { readonly v: Version; readonly type: 'abort'; readonly reason: string }
  /** Task `taskId` (a child of the receiver) finished: it needs nothing more, its end acknowledgement included. */
  | { readonly v: Version; readonly type: 'peerDone'; readonly taskId: number }
  /** Task `taskId` (a parent or child of the receiver) died and the flow goes on without it (`restartOnFailure`). */
  | { readonly v: Version; readonly type: 'peerLost'; readonly taskId: number }
  /** Report what the task waits on now (`queues`): the host looks for a deadlock of bounded queues (`runtime/queueDeadlock.ts`). */
  | { readonly v: Version; readonly type: 'probe' }
  /** The flow is in a deadlock of bounded queues: send the message that waits for room past it (one). */
  | { readonly v: Version; readonly type: 'lend' };

/** Task → host. */
export type TaskMessage =
  /**
   * The first message, sent before `init` arrives: the task's pid on its own machine, so that a
   * launcher can kill the task there even when it hangs in synchronous code before it is ready.
   */
  | { readonly v: Version; readonly type: 'hello'; readonly pid: number }
  /** The task bound its inbound socket here (absent: it has none, a producer). */
  | { readonly v: Version; readonly type: 'bound'; readonly endpoint?: string }
  | { readonly v: Version; readonly type: 'ready'; readonly pid: number }
  | { readonly v: Version; readonly type: 'started' }
  | { readonly v: Version; readonly type: 'error'; readonly error: SerializedError }
  /**
   * Proof of life from the task's heartbeat thread (see `runtime/liveness.ts`), every `heartbeatMs`
   * even while the main thread is blocked: how long the main event loop has not turned, and whether
   * the main thread is in node code (busy) rather than in the runtime.
   */
  | { readonly v: Version; readonly type: 'heartbeat'; readonly stalledMs: number; readonly inNode: boolean }
  /** The task's counters so far, sent periodically while its loop runs (live monitoring). */
  | { readonly v: Version; readonly type: 'stats'; readonly stats: TaskStats; readonly queues?: QueueWait }
  /** The answer to a `probe`. */
  | { readonly v: Version; readonly type: 'queues'; readonly queues: QueueWait }
  /** A process warning emitted in the task; the host prints each distinct one once. */
  | { readonly v: Version; readonly type: 'warning'; readonly warning: WarningRecord }
  | { readonly v: Version; readonly type: 'done'; readonly outcome: TaskOutcome };

/**
 * Checks a message received by a task. Throws `INVALID_CONTROL_MESSAGE` naming the field when it is
 * not a valid {@link HostMessage}. Checked by hand, not with zod: a task would otherwise load zod
 * (~960 KB) for the few messages of its run (see `lazyZod.ts`).
 */
export function parseHostMessage(value: unknown): HostMessage {
  return parseMessage<HostMessage>(value, 'host', HOST_MESSAGES);
}

/**
 * Checks a message received by the host. Throws `INVALID_CONTROL_MESSAGE` naming the field when it
 * is not a valid {@link TaskMessage}. By hand, as the task checks the host's: zod took ~100 ms to
 * load in a fresh host, before its first task started.
 */
export function parseTaskMessage(value: unknown): TaskMessage {
  return parseMessage<TaskMessage>(value, 'task', TASK_MESSAGES);
}

/** Checks the version, then the type, then the fields the type's check names. */
function parseMessage<TMessage extends { readonly type: string }>(
  value: unknown,
  from: string,
  checks: Readonly<Record<TMessage['type'], Check>>,
): TMessage {
  checkVersion(value, from);
  const type = (value as { type?: unknown }).type;
  const check = typeof type === 'string' && Object.hasOwn(checks, type) ? checks[type as TMessage['type']] : undefined;
  if (check === undefined) invalid(from, 'type', `one of ${Object.keys(checks).join(', ')}`, type);
  check(value, '', from);
  return value as TMessage;
}

function checkVersion(value: unknown, from: string): void {
  const version = (value as { v?: unknown } | null)?.v;
  if (version !== CONTROL_PROTOCOL_VERSION) {
    throw new VfError(
      'INVALID_CONTROL_MESSAGE',
      `control message from ${from} has protocol version ${describeReceived(version)}, expected ${CONTROL_PROTOCOL_VERSION}: the host and the task run different versions of vf`,
      { details: { from, version: describeReceived(version) } },
    );
  }
}

function invalid(from: string, path: string, expected: string, got: unknown): never {
  const shown = got === undefined ? 'nothing' : describeValue(got);
  throw new VfError('INVALID_CONTROL_MESSAGE', `invalid control message from ${from}: ${path} must be ${expected}, got ${shown}`, {
    details: { from, path },
  });
}

/** Checks one field of a message from `from`: throws naming `path` when `value` is not what it must be. */
type Check = (value: unknown, path: string, from: string) => void;

const at = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`);
const is =
  (expected: string, test: (value: unknown) => boolean): Check =>
  (value, path, from) => {
    if (!test(value)) invalid(from, path, expected, value);
  };
const string = is('a string', (value) => typeof value === 'string');
const boolean = is('a boolean', (value) => typeof value === 'boolean');
const number = is('a number', (value) => Number.isFinite(value));
const integer = (min: number) => is(`an integer from ${min}`, (value) => Number.isSafeInteger(value) && (value as number) >= min);
const anyInteger = is('an integer', (value) => Number.isSafeInteger(value));
const positive = is('a positive number', (value) => Number.isFinite(value) && (value as number) > 0);
const atLeastZero = is('a number from 0', (value) => Number.isFinite(value) && (value as number) >= 0);
const matching = (expected: string, pattern: RegExp) => is(expected, (value) => typeof value === 'string' && pattern.test(value));
const shortString = (max: number) =>
  is(`a string of at most ${max} characters`, (value) => typeof value === 'string' && value.length <= max);
const oneOf = (...values: string[]) => is(values.map((one) => `'${one}'`).join(' or '), (value) => values.includes(value as string));
const anything: Check = () => undefined;
const optional =
  (check: Check): Check =>
  (value, path, from) => {
    if (value !== undefined) check(value, path, from);
  };
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const object =
  (shape: Readonly<Record<string, Check>>): Check =>
  (value, path, from) => {
    if (!isObject(value)) invalid(from, path === '' ? 'the message' : path, 'an object', value);
    for (const [key, check] of Object.entries(shape)) check(value[key], at(path, key), from);
  };
const arrayOf =
  (item: Check): Check =>
  (value, path, from) => {
    if (!Array.isArray(value)) invalid(from, path, 'an array', value);
    for (const [index, one] of value.entries()) item(one, at(path, index), from);
  };
const recordOf =
  (item: Check): Check =>
  (value, path, from) => {
    if (!isObject(value)) invalid(from, path, 'an object', value);
    for (const [key, one] of Object.entries(value)) item(one, at(path, key), from);
  };

/** Where a task runs (`TaskSpec['device']`): planned by the host, reported back in the task's outcome. */
const device = matching("'cpu' or 'gpu:<n>'", /^(cpu|gpu:\d+)$/);

const taskSpec = object({
  id: integer(0),
  nodeIndex: integer(0),
  nodeName: string,
  taskIndex: integer(0),
  nbTasks: integer(1),
  device,
  env: recordOf(string),
});

const plannedNode = object({
  index: integer(0),
  name: string,
  kind: oneOf('producer', 'processor', 'consumer'),
  parents: arrayOf(integer(0)),
  children: arrayOf(integer(0)),
  nbTasks: integer(1),
  deviceType: oneOf('cpu', 'gpu'),
  requiresGpu: boolean,
  gpuMemoryMb: optional(positive),
  fps: optional(positive),
  wantsMetadata: optional(boolean),
  join: optional(
    object({
      mode: oneOf('time'),
      toleranceMs: atLeastZero,
      timeoutMs: atLeastZero,
      quorum: optional(integer(1)),
      collect: oneOf('first', 'last', 'all'),
    }),
  ),
});

const z85Key = matching('a 40-character Z85 key', /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/);

/** Each host message's check, by type (`v` and `type` are checked before). */
const HOST_MESSAGES: Readonly<Record<HostMessage['type'], Check>> = {
  init: object({
    init: object({
      task: taskSpec,
      nodes: arrayOf(plannedNode),
      tasks: arrayOf(taskSpec),
      source: object({ moduleUrl: string, params: anything }),
      transport: object({
        kind: oneOf('ipc', 'tcp'),
        endpoints: arrayOf(string),
        curve: optional(object({ publicKey: z85Key, secretKey: z85Key })),
        runSecret: matching('64 hex digits', /^[0-9a-f]{64}$/),
      }),
      queueSize: integer(1),
      restartOnFailure: boolean,
      sharedMemory: optional(object({ directory: is('a non-empty string', (value) => typeof value === 'string' && value !== '') })),
      messenger: object({ moduleUrl: string, exportName: string }),
      heartbeatMs: integer(1),
    }),
  }),
  start: anything,
  endpoints: object({ endpoints: arrayOf(string) }),
  stop: anything,
  abort: object({ reason: string }),
  peerDone: object({ taskId: integer(0) }),
  peerLost: object({ taskId: integer(0) }),
  probe: anything,
  lend: anything,
};

/** A task's error, its causes nested (`errors.ts`). */
const serializedError: Check = (value, path, from) =>
  object({
    name: string,
    message: string,
    code: optional(string),
    stack: optional(string),
    details: optional(recordOf(anything)),
    cause: optional(serializedError),
  })(value, path, from);

const taskStats = object({
  received: number,
  emitted: number,
  dropped: number,
  drops: arrayOf(object({ from: string, to: string, count: number })),
  processed: number,
  proctimeTotalMs: number,
  activeMs: number,
  joins: optional(object({ complete: number, partial: number, dropped: number })),
  rejected: optional(number),
  failed: optional(number),
  deadLettered: optional(number),
  retried: optional(number),
  failures: optional(arrayOf(object({ from: string, to: string, failed: number, deadLettered: number }))),
  deviceDetail: optional(shortString(DEVICE_DETAIL_MAX_LENGTH)),
});

const roomsByTask = arrayOf(
  is('a [task id, room] pair', (value) => Array.isArray(value) && value.length === 2 && value.every((one) => Number.isSafeInteger(one))),
);
const queueWait = object({
  on: optional(oneOf('room', 'input', 'end')),
  child: optional(string),
  moved: integer(0),
  rooms: optional(object({ toChildren: roomsByTask, fromParents: roomsByTask })),
});

/** Each task message's check, by type (`v` and `type` are checked before). */
const TASK_MESSAGES: Readonly<Record<TaskMessage['type'], Check>> = {
  hello: object({ pid: integer(1) }),
  bound: object({ endpoint: optional(string) }),
  ready: object({ pid: anyInteger }),
  started: anything,
  heartbeat: object({ stalledMs: atLeastZero, inNode: boolean }),
  error: object({ error: serializedError }),
  stats: object({ stats: taskStats, queues: optional(queueWait) }),
  queues: object({ queues: queueWait }),
  warning: object({ warning: object({ name: string, message: string, code: optional(string) }) }),
  done: object({
    outcome: object({
      taskId: anyInteger,
      nodeName: string,
      taskIndex: anyInteger,
      device,
      status: oneOf('completed', 'stopped', 'failed', 'aborted'),
      stats: taskStats,
      error: optional(serializedError),
    }),
  }),
};

/**
 * The pid a task reported in its `hello`, for launchers that carry the control channel (they see
 * every message before the host checks it); undefined for any other message.
 */
export function helloPid(value: unknown): number | undefined {
  const message = value as { v?: unknown; type?: unknown; pid?: unknown } | null;
  if (message?.v !== CONTROL_PROTOCOL_VERSION || message.type !== 'hello') return undefined;
  return Number.isSafeInteger(message.pid) && (message.pid as number) > 0 ? (message.pid as number) : undefined;
}
