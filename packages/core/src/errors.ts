/**
 * The one error family of vf. Every error vf throws is a {@link VfError} with a string `code`.
 * Errors cross process boundaries as plain JSON ({@link serializeError} / {@link deserializeError}),
 * so they are recognised by a brand rather than by `instanceof`.
 */

const VF_ERROR_BRAND = Symbol.for('vf.error');

/** Serialised form of an error, safe to send between processes (JSON only). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
  /**
   * A vf error's `details`; for any other error, its own enumerable fields but `name`, `message`,
   * `stack`, `code` and `cause` (a Node error's `errno`, `syscall`, `path`; a user's own), which
   * {@link deserializeError} puts back on the error.
   */
  readonly details?: Record<string, unknown>;
  readonly cause?: SerializedError;
}

/** Options accepted by every {@link VfError} constructor. */
export interface VfErrorOptions {
  readonly cause?: unknown;
  /** JSON-serialisable facts about the failure (node names, task index, ...). */
  readonly details?: Record<string, unknown>;
}

/**
 * Base class of every vf error.
 *
 * @example
 * ```ts
 * try { new Flow([], []) } catch (e) { if (isVfError(e)) console.log(e.code) }
 * ```
 */
export class VfError extends Error {
  readonly [VF_ERROR_BRAND] = true;
  /** Stable machine-readable code, e.g. `'CYCLE'` or `'TASK_FAILED'`. */
  readonly code: string;
  /** Facts about the failure; JSON-serialisable. */
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: VfErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VfError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /** JSON form, so `JSON.stringify(error)` keeps code, details and cause. */
  toJSON(): SerializedError {
    return serializeError(this);
  }
}

/** Error codes of {@link FlowValidationError}. */
export const FlowValidationCode = {
  Cycle: 'CYCLE',
  Unreachable: 'UNREACHABLE',
  NoProducer: 'NO_PRODUCER',
  NoConsumer: 'NO_CONSUMER',
  WiredTwice: 'WIRED_TWICE',
  DuplicateName: 'DUPLICATE_NAME',
  InvalidOption: 'INVALID_OPTION',
  InvalidWiring: 'INVALID_WIRING',
  UnlistedNode: 'UNLISTED_NODE',
  NotReplicable: 'NOT_REPLICABLE',
  InvalidFlowModule: 'INVALID_FLOW_MODULE',
  InvalidState: 'INVALID_STATE',
  InAnotherFlow: 'IN_ANOTHER_FLOW',
} as const;
export type FlowValidationCode = (typeof FlowValidationCode)[keyof typeof FlowValidationCode];

/** The graph, a node's options, or a flow module is invalid. Thrown before anything runs. */
export class FlowValidationError extends VfError {
  constructor(code: FlowValidationCode, message: string, options: VfErrorOptions = {}) {
    super(code, message, options);
    this.name = 'FlowValidationError';
  }
}

/** Tasks cannot be placed on devices (e.g. a GPU-only node and no free GPU). */
export class AllocationError extends VfError {
  constructor(code: string, message: string, options: VfErrorOptions = {}) {
    super(code, message, options);
    this.name = 'AllocationError';
  }
}

/** A task failed: its node threw, or its process died. Carries the node name and task index. */
export class TaskFailedError extends VfError {
  readonly nodeName: string;
  readonly taskIndex: number;

  constructor(nodeName: string, taskIndex: number, cause: unknown, message?: string) {
    const causeText = cause instanceof Error ? cause.message : String(cause);
    super('TASK_FAILED', message ?? `task ${taskIndex} of node "${nodeName}" failed: ${causeText}`, {
      cause,
      details: { nodeName, taskIndex },
    });
    this.name = 'TaskFailedError';
    this.nodeName = nodeName;
    this.taskIndex = taskIndex;
  }
}

/** Error codes of {@link ValueError}. */
export const ValueErrorCode = {
  /** The value holds something that cannot travel between tasks (a function, a symbol, an unregistered class...). */
  NotCloneable: 'VALUE_NOT_CLONEABLE',
  /** The value exceeds a size limit of the wire format (header bytes, raw frame bytes, nesting depth). */
  TooLarge: 'VALUE_TOO_LARGE',
  /** A value arrived as a registered type that this process has not registered. */
  UnknownType: 'VALUE_TYPE_UNKNOWN',
  /** A registered type's `decode` threw. */
  DecodeFailed: 'VALUE_DECODE_FAILED',
  /** `registerValueType` was called with an invalid or conflicting definition. */
  InvalidType: 'VALUE_TYPE_INVALID',
} as const;
export type ValueErrorCode = (typeof ValueErrorCode)[keyof typeof ValueErrorCode];

/**
 * A value cannot travel between tasks under vf's value model (see `registerValueType`). Thrown in
 * the sending task, so the flow fails naming the node that sent it; `details.path` says where in
 * the value the problem is (`output.detections[3].callback`).
 */
export class ValueError extends VfError {
  constructor(code: ValueErrorCode, message: string, options: VfErrorOptions = {}) {
    super(code, message, options);
    this.name = 'ValueError';
  }
}

/** What {@link taskFailureOf} reads of a task's outcome. */
export interface TaskEnding {
  readonly nodeName: string;
  readonly taskIndex: number;
  readonly status: string;
  readonly error?: SerializedError;
}

/**
 * The error of a run: a {@link TaskFailedError} for the first failed task in task order, its cause
 * rebuilt from the task's serialised error; undefined when no task failed.
 */
export function taskFailureOf(outcomes: readonly TaskEnding[]): TaskFailedError | undefined {
  const failed = outcomes.find((outcome) => outcome.status === 'failed');
  if (failed === undefined) return undefined;
  return new TaskFailedError(
    failed.nodeName,
    failed.taskIndex,
    failed.error === undefined ? 'unknown failure' : deserializeError(failed.error),
  );
}

/** True for any vf error, including one rebuilt from another process or another copy of vf. */
export function isVfError(value: unknown): value is VfError {
  return typeof value === 'object' && value !== null && (value as Record<PropertyKey, unknown>)[VF_ERROR_BRAND] === true;
}

/** Turns any thrown value into JSON that {@link deserializeError} can rebuild in another process. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!isErrorLike(error)) {
    return { name: 'NonError', message: describeThrown(error) };
  }
  // Whatever a node threw must cross to the host as itself: a message that is a number, or details
  // JSON cannot carry, made the task's report an invalid control message (an internal error instead).
  const base: {
    name: string;
    message: string;
    stack?: string;
    code?: string;
    details?: Record<string, unknown>;
    cause?: SerializedError;
  } = { name: textOf(error.name), message: textOf(error.message) };
  if (error.stack !== undefined) base.stack = textOf(error.stack);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') base.code = code;
  if (isVfError(error)) base.details = jsonDetails(error.details);
  else {
    const fields = ownFieldsOf(error);
    if (fields !== undefined) base.details = fields;
  }
  if (error.cause !== undefined && depth < 8) base.cause = serializeError(error.cause, depth + 1);
  return base;
}

/**
 * An `Error`, or an object that is one in all but its prototype (a string `name`, `message` and
 * `stack`): errors from another realm or from a native addon (ZeroMQ's) keep their fields and code.
 */
function isErrorLike(value: unknown): value is Error {
  if (value instanceof Error) return true;
  if (typeof value !== 'object' || value === null) return false;
  const { name, message, stack } = value as { name?: unknown; message?: unknown; stack?: unknown };
  return typeof name === 'string' && typeof message === 'string' && typeof stack === 'string';
}

/** A thrown error's field as text; never throws (a `toString` that throws, or a symbol's). */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return String(value);
  } catch {
    return describeValue(value);
  }
}

/** Fields {@link serializeError} carries on their own, never among an error's own fields. */
const CARRIED_FIELDS = new Set(['name', 'message', 'stack', 'code', 'cause']);
/** At most this many own fields of an error are carried. */
const OWN_FIELDS_MAX = 32;
/** An own field whose JSON is longer than this travels as its description (an error holding a frame must not carry it). */
const OWN_FIELD_JSON_MAX = 4096;

/**
 * The own enumerable fields of a non-vf error (a Node system error's `errno`, `syscall`, `path`, an
 * HTTP client's `status`, a user's own), as JSON carries them; undefined when it has none. Bounded:
 * a field JSON cannot carry, or too long, becomes its description. Never throws (a getter may).
 */
function ownFieldsOf(error: Error): Record<string, unknown> | undefined {
  let fields: Record<string, unknown> | undefined;
  let keys: string[];
  try {
    keys = Object.keys(error);
  } catch {
    return undefined;
  }
  let count = 0;
  for (const key of keys) {
    if (CARRIED_FIELDS.has(key)) continue;
    if (++count > OWN_FIELDS_MAX) break;
    let value: unknown;
    try {
      value = (error as unknown as Record<string, unknown>)[key];
    } catch {
      value = 'a field that could not be read';
    }
    // As JSON would: an undefined field is no field.
    if (value === undefined) continue;
    fields ??= {};
    fields[key] = carriedField(value);
  }
  return fields;
}

function carriedField(value: unknown): unknown {
  if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return value;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return value.length > OWN_FIELD_JSON_MAX ? `${value.slice(0, OWN_FIELD_JSON_MAX - 3)}...` : value;
  if (typeof value !== 'object' || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return describeValue(value);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // a cycle, a BigInt inside
  }
  return json !== undefined && json.length <= OWN_FIELD_JSON_MAX ? JSON.parse(json) : describeValue(value);
}

/**
 * `details` as JSON carries them: each field JSON cannot carry (a BigInt, a cycle) becomes text (a
 * BigInt as `123n`), the others kept as they are.
 */
function jsonDetails(details: Record<string, unknown>): Record<string, unknown> {
  const carried: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    try {
      JSON.stringify(value);
      carried[key] = value;
    } catch {
      carried[key] = typeof value === 'bigint' ? `${value}n` : describeValue(value);
    }
  }
  return carried;
}

/** Rebuilds an error serialised by {@link serializeError}, restoring vf's classes where known. */
export function deserializeError(data: SerializedError): Error {
  const cause = data.cause === undefined ? undefined : deserializeError(data.cause);
  let error: Error;
  const details = data.details ?? {};
  switch (data.name) {
    case 'TaskFailedError':
      error = new TaskFailedError(String(details.nodeName ?? '?'), Number(details.taskIndex ?? 0), cause, data.message);
      break;
    case 'FlowValidationError':
      error = new FlowValidationError(data.code as FlowValidationCode, data.message, { cause, details });
      break;
    case 'ValueError':
      error = new ValueError(data.code as ValueErrorCode, data.message, { cause, details });
      break;
    case 'AllocationError':
      error = new AllocationError(data.code ?? 'ALLOCATION', data.message, { cause, details });
      break;
    case 'VfError':
      error = new VfError(data.code ?? 'UNKNOWN', data.message, { cause, details });
      break;
    default: {
      error = new Error(data.message, cause === undefined ? undefined : { cause });
      error.name = data.name;
      if (data.code !== undefined) (error as Error & { code?: string }).code = data.code;
      // Own fields, as the error had them; defined, never assigned: a peer's `__proto__` stays a plain field.
      for (const [key, value] of Object.entries(details)) {
        if (CARRIED_FIELDS.has(key)) continue;
        Object.defineProperty(error, key, { value, enumerable: true, writable: true, configurable: true });
      }
    }
  }
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}

function describeThrown(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * A value a user gave (an option, a policy) as an error message shows it: strings quoted, objects by
 * kind, never by `String()` (which throws on a map whose `toString` key is not a function).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/**
 * A received value (from a peer, on the wire) as an error message shows it: a primitive as
 * `String()` writes it (cut to 64 characters: a peer may send a 64 KB string), any object as what it
 * is, never by `String()` (a lying peer's map whose `toString` key is not a function would make it
 * throw, and a coded error must never become a crash).
 */
export function describeReceived(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return value instanceof Uint8Array ? 'binary data' : 'an object';
  const text = String(value);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}
