import type { z } from 'zod';
import type { Spawner } from '../contracts/spawner.js';
import { FlowValidationError } from '../errors.js';
import { lazySchema } from '../lazyZod.js';
import { forkSpawner } from './forkSpawner.js';
import { MIN_LIVENESS_TIMEOUT_MS } from './liveness.js';
import { checkPlacement, type Placement } from './placement.js';

/**
 * The longest delay a Node timer honours: `setTimeout` fires a longer one after 1 ms (with a
 * warning), so a `readyTimeoutMs` of 3e9 would fail every flow at once. Longer timeouts are refused.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const TIMEOUT_REQUIREMENT = `must be a number of ms from 0 to ${MAX_TIMEOUT_MS} (about 24.8 days, the longest a Node timer can wait)`;

/** What each option must be, as error messages say it (`<engine>: <option> <requirement>, got <value>`). */
const REQUIREMENTS: Readonly<Record<string, string>> = {
  queueSize: 'must be a positive integer',
  transport: "must be 'ipc' or 'tcp'",
  host: 'must be a non-empty string: the address local tasks bind',
  spawner: 'must be a Spawner, an object with a spawn(request) method (default: forkSpawner)',
  curve: 'must be a boolean',
  readyTimeoutMs: TIMEOUT_REQUIREMENT,
  killGraceMs: TIMEOUT_REQUIREMENT,
  stopTimeoutMs: TIMEOUT_REQUIREMENT,
  restartOnFailure: 'must be a boolean',
  sharedMemory: 'must be a boolean',
  livenessTimeoutMs: `must be a number of ms from ${MIN_LIVENESS_TIMEOUT_MS} to ${MAX_TIMEOUT_MS}`,
};

const isSpawner = (value: unknown): value is Spawner =>
  typeof value === 'object' && value !== null && typeof (value as Partial<Spawner>).spawn === 'function';

/**
 * The options of the multi-process engines (`ProcessEngineOptions`), stated once with their
 * defaults. `placement`, `transport` and `curve` depend on each other: `checkPlacement` settles them.
 */
const processEngineOptionsSchema = lazySchema((z) => {
  const timeoutMs = (defaultMs: number) => z.number().min(0).max(MAX_TIMEOUT_MS).default(defaultMs);
  return z.object({
    queueSize: z.int().min(1).default(8),
    transport: z.enum(['ipc', 'tcp']).optional(),
    host: z.string().min(1).default('127.0.0.1'),
    spawner: z.custom<Spawner>(isSpawner).default(forkSpawner),
    placement: z.unknown().optional(),
    curve: z.boolean().optional(),
    readyTimeoutMs: timeoutMs(60_000),
    killGraceMs: timeoutMs(2_000),
    stopTimeoutMs: timeoutMs(30_000),
    restartOnFailure: z.boolean().default(false),
    livenessTimeoutMs: z.number().min(MIN_LIVENESS_TIMEOUT_MS).max(MAX_TIMEOUT_MS).default(10_000),
    sharedMemory: z.boolean().default(true),
  });
});

/** The options of `InProcessEngine`. */
const inProcessEngineOptionsSchema = lazySchema((z) =>
  z.object({
    queueSize: z.int().min(1).default(8),
  }),
);

/** A multi-process engine's options, checked, with every default filled in. */
export interface ResolvedProcessEngineOptions {
  readonly queueSize: number;
  readonly transport: 'ipc' | 'tcp';
  readonly host: string;
  readonly spawner: Spawner;
  readonly placement: Placement;
  readonly curve: boolean;
  readonly readyTimeoutMs: number;
  readonly killGraceMs: number;
  readonly stopTimeoutMs: number;
  readonly restartOnFailure: boolean;
  readonly livenessTimeoutMs: number;
  readonly sharedMemory: boolean;
}

/**
 * Checks the options of a multi-process engine and fills in the defaults; throws
 * `FlowValidationError` `INVALID_OPTION` naming the engine, the option, what it must be and the
 * value given (`details: { option, value }`).
 */
export function resolveProcessEngineOptions(engine: string, options: unknown): ResolvedProcessEngineOptions {
  const parsed = parseOptions(engine, processEngineOptionsSchema(), options);
  const { placement, transport, curve } = checkPlacement(engine, parsed);
  return { ...parsed, placement, transport, curve };
}

/** Checks the options of `InProcessEngine` and fills in the defaults (see {@link resolveProcessEngineOptions}). */
export function resolveInProcessEngineOptions(options: unknown): { readonly queueSize: number } {
  return parseOptions('InProcessEngine', inProcessEngineOptionsSchema(), options);
}

function parseOptions<TSchema extends z.ZodObject>(engine: string, schema: TSchema, options: unknown): z.output<TSchema> {
  const given = options ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new FlowValidationError('INVALID_OPTION', `${engine}: options must be an object, got ${describeValue(given)}`, {
      details: { value: describeValue(given) },
    });
  }
  const result = schema.safeParse(given);
  if (result.success) return result.data;
  const option = String(result.error.issues[0]?.path[0] ?? '');
  const value = describeValue((given as Record<string, unknown>)[option]);
  const requirement = REQUIREMENTS[option] ?? result.error.issues[0]?.message ?? 'is invalid';
  throw new FlowValidationError('INVALID_OPTION', `${engine}: ${option} ${requirement}, got ${value}`, { details: { option, value } });
}

/** A value as an error message shows it: strings quoted, objects by kind. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
