import type { Spawner } from '../contracts/spawner.js';
import { describeValue, FlowValidationError } from '../errors.js';
import { forkSpawner } from './forkSpawner.js';
import { MIN_LIVENESS_TIMEOUT_MS } from './liveness.js';
import { checkPlacement, type Placement } from './placement.js';
import { MAX_TIMER_MS } from './waiting.js';

/**
 * The longest delay a Node timer honours: `setTimeout` fires a longer one after 1 ms (with a
 * warning), so a `readyTimeoutMs` of 3e9 would fail every flow at once. Longer timeouts are refused.
 */
export const MAX_TIMEOUT_MS = MAX_TIMER_MS;

const isSpawner = (value: unknown): value is Spawner =>
  typeof value === 'object' && value !== null && typeof (value as Partial<Spawner>).spawn === 'function';

/**
 * One option: what it must be, as error messages say it (`<engine>: <option> <requirement>, got
 * <value>`; none where every value is valid), whether a given value is, and its default (undefined: none).
 */
interface OptionRule {
  readonly requirement?: string;
  readonly valid: (value: unknown) => boolean;
  readonly default?: unknown;
}

const boolean = (defaultValue?: boolean): OptionRule => ({
  requirement: 'must be a boolean',
  valid: (value) => typeof value === 'boolean',
  default: defaultValue,
});
const msFrom = (min: number) => (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) && value >= min && value <= MAX_TIMEOUT_MS;
const timeoutMs = (defaultMs: number): OptionRule => ({
  requirement: `must be a number of ms from 0 to ${MAX_TIMEOUT_MS} (about 24.8 days, the longest a Node timer can wait)`,
  valid: msFrom(0),
  default: defaultMs,
});
const queueSize: OptionRule = {
  requirement: 'must be a positive integer',
  valid: (value) => Number.isSafeInteger(value) && (value as number) >= 1,
  default: 8,
};

/**
 * The options of the multi-process engines (`ProcessEngineOptions`), stated once with their
 * defaults, in the order they are checked. `placement`, `transport` and `curve` depend on each
 * other: `checkPlacement` settles them. Checked by hand: zod (~960 KB of JavaScript) took ~100 ms
 * to load in a fresh host, before the first task could start.
 */
const PROCESS_ENGINE_OPTIONS: Readonly<Record<string, OptionRule>> = {
  queueSize,
  transport: { requirement: "must be 'ipc' or 'tcp'", valid: (value) => value === 'ipc' || value === 'tcp' },
  host: {
    requirement: 'must be a non-empty string: the address local tasks bind',
    valid: (value) => typeof value === 'string' && value.length > 0,
    default: '127.0.0.1',
  },
  spawner: {
    requirement: 'must be a Spawner, an object with a spawn(request) method (default: forkSpawner)',
    valid: isSpawner,
    default: forkSpawner,
  },
  placement: { valid: () => true },
  curve: boolean(),
  readyTimeoutMs: timeoutMs(60_000),
  killGraceMs: timeoutMs(2_000),
  stopTimeoutMs: timeoutMs(30_000),
  restartOnFailure: boolean(false),
  livenessTimeoutMs: {
    requirement: `must be a number of ms from ${MIN_LIVENESS_TIMEOUT_MS} to ${MAX_TIMEOUT_MS}`,
    valid: msFrom(MIN_LIVENESS_TIMEOUT_MS),
    default: 10_000,
  },
  sharedMemory: boolean(true),
};

/** The options of `InProcessEngine`. */
const IN_PROCESS_ENGINE_OPTIONS: Readonly<Record<string, OptionRule>> = { queueSize, stopTimeoutMs: timeoutMs(30_000) };

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

/** A multi-process engine's options as {@link PROCESS_ENGINE_OPTIONS} checked them, before `checkPlacement` settles the rest. */
type CheckedProcessEngineOptions = Omit<ResolvedProcessEngineOptions, 'placement' | 'transport' | 'curve'> & {
  readonly placement?: unknown;
  readonly transport?: 'ipc' | 'tcp';
  readonly curve?: boolean;
};

/**
 * Checks the options of a multi-process engine and fills in the defaults; throws
 * `FlowValidationError` `INVALID_OPTION` naming the engine, the option, what it must be and the
 * value given (`details: { option, value }`).
 */
export function resolveProcessEngineOptions(engine: string, options: unknown): ResolvedProcessEngineOptions {
  const parsed = parseOptions(engine, PROCESS_ENGINE_OPTIONS, options) as CheckedProcessEngineOptions;
  const { placement, transport, curve } = checkPlacement(engine, parsed);
  return { ...parsed, placement, transport, curve };
}

/** Checks the options of `InProcessEngine` and fills in the defaults (see {@link resolveProcessEngineOptions}). */
export function resolveInProcessEngineOptions(options: unknown): { readonly queueSize: number; readonly stopTimeoutMs: number } {
  return parseOptions('InProcessEngine', IN_PROCESS_ENGINE_OPTIONS, options) as {
    readonly queueSize: number;
    readonly stopTimeoutMs: number;
  };
}

/** The options of `options`, each checked in turn, with defaults for those not given; a key that is no option is `INVALID_OPTION`. */
function parseOptions(engine: string, rules: Readonly<Record<string, OptionRule>>, options: unknown): Record<string, unknown> {
  const given = options ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new FlowValidationError('INVALID_OPTION', `${engine}: options must be an object, got ${describeValue(given)}`, {
      details: { value: describeValue(given) },
    });
  }
  // A misspelt option (queueSiz) must not pass for the default without a word.
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(rules, key)) {
      throw new FlowValidationError(
        'INVALID_OPTION',
        `${engine}: ${JSON.stringify(key)} is not an option (options: ${Object.keys(rules).join(', ')})`,
        {
          details: { option: key },
        },
      );
    }
  }
  const parsed: Record<string, unknown> = {};
  for (const [option, rule] of Object.entries(rules)) {
    const value = (given as Record<string, unknown>)[option];
    if (value === undefined) {
      if (rule.default !== undefined) parsed[option] = rule.default;
      continue;
    }
    if (!rule.valid(value)) {
      const shown = describeValue(value);
      throw new FlowValidationError('INVALID_OPTION', `${engine}: ${option} ${rule.requirement ?? 'is invalid'}, got ${shown}`, {
        details: { option, value: shown },
      });
    }
    parsed[option] = value;
  }
  return parsed;
}
