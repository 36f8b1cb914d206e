import { DirectiveError } from './errors.js';
import type { Job } from './workspace.js';

/** A directive's value, or a function of the job that returns it (evaluated per job). */
export type DirectiveValue<T> = T | ((job: Job) => T);

/**
 * Resource and execution directives of an operation (signac-flow's names). Every key is optional;
 * {@link resolveDirectives} fills the defaults. Keys not listed here are user directives: they are
 * kept as they are and reach the scheduler templates as `it.directives.<key>`.
 */
export interface Directives {
  /** Number of processes (tasks) the operation uses. Integer ≥ 1; default 1, or `nranks × omp_num_threads` when left at 1. */
  readonly np?: DirectiveValue<number>;
  /** Number of GPUs. Integer ≥ 0; default 0. */
  readonly ngpu?: DirectiveValue<number>;
  /** Number of MPI ranks. Integer ≥ 0; default 0 (not an MPI operation). */
  readonly nranks?: DirectiveValue<number>;
  /** OpenMP threads per rank. Integer ≥ 0; default 0 (unset). */
  readonly omp_num_threads?: DirectiveValue<number>;
  /** Memory: a number of gigabytes, or a string with a unit: `'4g'`, `'512m'`, `'2048mb'`, `'1t'`. */
  readonly memory?: DirectiveValue<number | string>;
  /** Wall time in hours (may be fractional). */
  readonly walltime?: DirectiveValue<number>;
  /** Command that runs the project script (default: this Node.js with its loader flags). */
  readonly executable?: DirectiveValue<string>;
  /** Run the operation in its own process (`<executable> <script> exec OP ID`). Default false. */
  readonly fork?: DirectiveValue<boolean>;
  /** Fraction of a processor the operation uses, in (0, 1]. Default 1. */
  readonly processor_fraction?: DirectiveValue<number>;
  /** User directives. */
  readonly [key: string]: unknown;
}

/** Directives after validation, with defaults filled, `memory` in GB and `walltime` in hours. */
export interface ResolvedDirectives {
  readonly np: number;
  readonly ngpu: number;
  readonly nranks: number;
  readonly omp_num_threads: number;
  /** Gigabytes, or undefined when not requested. */
  readonly memory: number | undefined;
  /** Hours, or undefined when not requested. */
  readonly walltime: number | undefined;
  readonly executable: string;
  readonly fork: boolean;
  readonly processor_fraction: number;
  /** User directives, as given. */
  readonly user: Readonly<Record<string, unknown>>;
}

/** The directives signac-flow defines; every other key is a user directive. */
export const STANDARD_DIRECTIVES = [
  'np',
  'ngpu',
  'nranks',
  'omp_num_threads',
  'memory',
  'walltime',
  'executable',
  'fork',
  'processor_fraction',
] as const;

const MEMORY_UNITS: Readonly<Record<string, number>> = { k: 1 / 1024 ** 2, m: 1 / 1024, g: 1, t: 1024 };

type Where = { readonly operation?: string; readonly group?: string };

function fail(name: string, value: unknown, rule: string, where: Where): never {
  const context = [where.operation && `operation "${where.operation}"`, where.group && `group "${where.group}"`]
    .filter(Boolean)
    .join(' in ');
  const shown = typeof value === 'string' ? `"${value}"` : typeof value === 'function' ? 'a function' : JSON.stringify(value);
  throw new DirectiveError(name, `invalid directive ${name}=${shown}${context ? ` for ${context}` : ''}: ${rule}`, {
    details: { value: typeof value === 'function' ? 'function' : (value as never), ...where },
  });
}

function integerAtLeast(name: string, value: unknown, min: number, where: Where): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) fail(name, value, `must be an integer ≥ ${min}`, where);
  return value;
}

/** Parses a memory directive to gigabytes: numbers are GB; strings carry a unit (k, m, g, t; optional `b`). */
export function parseMemory(value: unknown, where: Where = {}): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) fail('memory', value, 'must be a positive number of gigabytes', where);
    return value;
  }
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt])b?\s*$/i.exec(value);
    const amount = match === null ? Number.NaN : Number(match[1]);
    if (match === null || amount <= 0) fail('memory', value, 'must be a positive amount with a unit, e.g. "4g", "512m"', where);
    return amount * MEMORY_UNITS[match[2]!.toLowerCase()]!;
  }
  return fail('memory', value, 'must be a number of gigabytes or a string like "4g"', where);
}

/**
 * Validates directives for one job: evaluates functions of the job, checks every value and fills
 * the defaults; `np` becomes `max(1, nranks) × max(1, omp_num_threads)` when left at 1 (signac's
 * rule, applied per operation before any combination). Throws {@link DirectiveError}.
 */
export function resolveDirectives(
  directives: Directives | undefined,
  options: { readonly job?: Job; readonly defaultExecutable: string; readonly operation?: string; readonly group?: string },
): ResolvedDirectives {
  const where: Where = { operation: options.operation, group: options.group };
  const raw = directives ?? {};
  const value = (name: string): unknown => {
    const given = raw[name];
    if (typeof given !== 'function') return given;
    if (options.job === undefined) fail(name, given, 'a function of the job needs a job to evaluate', where);
    try {
      return (given as (job: Job) => unknown)(options.job);
    } catch (error) {
      throw new DirectiveError(name, `directive ${name} threw for job ${options.job.id}: ${(error as Error).message}`, {
        cause: error,
        details: { ...where, job: options.job.id },
      });
    }
  };
  const get = (name: string, fallback: unknown) => {
    const found = value(name);
    return found === undefined ? fallback : found;
  };
  const nranks = integerAtLeast('nranks', get('nranks', 0), 0, where);
  const omp = integerAtLeast('omp_num_threads', get('omp_num_threads', 0), 0, where);
  let np = integerAtLeast('np', get('np', 1), 1, where);
  if (np === 1) np = Math.max(1, nranks) * Math.max(1, omp);
  const memoryValue = value('memory');
  const walltimeValue = value('walltime');
  if (walltimeValue !== undefined && (typeof walltimeValue !== 'number' || !Number.isFinite(walltimeValue) || walltimeValue <= 0)) {
    fail('walltime', walltimeValue, 'must be a positive number of hours', where);
  }
  const executable = get('executable', options.defaultExecutable);
  if (typeof executable !== 'string' || executable.trim() === '') fail('executable', executable, 'must be a non-empty string', where);
  const fork = get('fork', false);
  if (typeof fork !== 'boolean') fail('fork', fork, 'must be true or false', where);
  const fraction = get('processor_fraction', 1);
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1))
    fail('processor_fraction', fraction, 'must be a number in (0, 1]', where);
  const user: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (!(STANDARD_DIRECTIVES as readonly string[]).includes(key)) user[key] = value(key);
  }
  return {
    np,
    ngpu: integerAtLeast('ngpu', get('ngpu', 0), 0, where),
    nranks,
    omp_num_threads: omp,
    memory: memoryValue === undefined ? undefined : parseMemory(memoryValue, where),
    walltime: walltimeValue as number | undefined,
    executable,
    fork,
    processor_fraction: fraction,
    user,
  };
}

const maxDefined = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));
const sumDefined = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : a + b);

type Rules = {
  readonly [K in keyof Omit<ResolvedDirectives, 'user'>]: (a: ResolvedDirectives[K], b: ResolvedDirectives[K]) => ResolvedDirectives[K];
};

const first = <T>(a: T) => a;
const either = (a: boolean, b: boolean) => a || b;
const add = (a: number, b: number) => a + b;

function combineWith(rules: Rules, a: ResolvedDirectives, b: ResolvedDirectives): ResolvedDirectives {
  return {
    np: rules.np(a.np, b.np),
    ngpu: rules.ngpu(a.ngpu, b.ngpu),
    nranks: rules.nranks(a.nranks, b.nranks),
    omp_num_threads: rules.omp_num_threads(a.omp_num_threads, b.omp_num_threads),
    memory: rules.memory(a.memory, b.memory),
    walltime: rules.walltime(a.walltime, b.walltime),
    executable: rules.executable(a.executable, b.executable),
    fork: rules.fork(a.fork, b.fork),
    processor_fraction: rules.processor_fraction(a.processor_fraction, b.processor_fraction),
    user: { ...b.user, ...a.user },
  };
}

/** signac-flow's serial rules: max of counts and memory, sum of walltime. */
const SERIAL: Rules = {
  np: Math.max,
  ngpu: Math.max,
  nranks: Math.max,
  omp_num_threads: Math.max,
  memory: maxDefined,
  walltime: sumDefined,
  executable: first,
  fork: either,
  processor_fraction: first,
};

/** signac-flow's parallel rules: sums of counts and memory, max of walltime. */
const PARALLEL: Rules = { ...SERIAL, np: add, ngpu: add, nranks: add, omp_num_threads: add, memory: sumDefined, walltime: maxDefined };

/**
 * Resources of `a` then `b` run one after the other (a group's operations, a serial bundle):
 * max of np, ngpu, nranks, omp_num_threads and memory; sum of walltime; `fork` if either forks;
 * `executable`, `processor_fraction` and user directives from `a` (user keys only `b` has are kept).
 *
 * @example signac-flow's test values
 * ```ts
 * serialDirectives(a, b) // a: np 1, nranks 5, omp 20, walltime 64; b: np 4, walltime 20 → np 100, walltime 84
 * ```
 */
export function serialDirectives(a: ResolvedDirectives, b: ResolvedDirectives): ResolvedDirectives {
  return combineWith(SERIAL, a, b);
}

/**
 * Resources of `a` and `b` running at the same time (a `--parallel` bundle): sums of np, ngpu,
 * nranks, omp_num_threads and memory; max of walltime; the rest as in {@link serialDirectives}.
 */
export function parallelDirectives(a: ResolvedDirectives, b: ResolvedDirectives): ResolvedDirectives {
  return combineWith(PARALLEL, a, b);
}

/** Folds a non-empty list of directives with {@link serialDirectives} or {@link parallelDirectives}. */
export function combineDirectives(list: readonly ResolvedDirectives[], mode: 'serial' | 'parallel'): ResolvedDirectives {
  if (list.length === 0) throw new DirectiveError('*', 'cannot combine an empty list of directives');
  const combine = mode === 'serial' ? serialDirectives : parallelDirectives;
  return list.slice(1).reduce(combine, list[0]!);
}
