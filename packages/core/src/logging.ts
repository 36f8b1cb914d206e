/**
 * The framework's one logger (pino). The host and every task process log through it: JSON lines
 * for machines, or one readable line per record for people, on stderr. In a task process every
 * line carries the flow run, the node and the replica it comes from.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { DestinationStream, Logger } from 'pino';
import type { build as prettyStreamType } from 'pino-pretty';
import { describeValue, FlowValidationError } from './errors.js';

// pino and pino-pretty take ~70 ms to load: every task process would pay it at start-up, so they
// load with the first line logged (both are CommonJS, so a synchronous require does).
const require = createRequire(import.meta.url);
const loadPino = () => (require('pino') as typeof import('pino')).pino;
const loadPrettyStream = () => (require('pino-pretty') as { build: typeof prettyStreamType }).build;

/** Levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** How verbose the framework is: one of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `json`: one JSON object per line (pino's format). `pretty`: one readable line per record. */
export type LogFormat = 'json' | 'pretty';

/** The environment variable that sets the level when no option does (task processes inherit it). */
export const LOG_LEVEL_ENV = 'VF_LOG_LEVEL';
/** The environment variable that sets the format when no option does. */
export const LOG_FORMAT_ENV = 'VF_LOG_FORMAT';
/** Set by the host for its task processes: the id of the flow run, on every line they log. */
export const RUN_ID_ENV = 'VF_RUN_ID';

/** Options of {@link configureLogging}, and `flow.run(engine, { log })`. */
export interface LoggingOptions {
  /** Default: `VF_LOG_LEVEL`, else `info`. */
  readonly level?: LogLevel;
  /** Default: `VF_LOG_FORMAT`, else `pretty`. */
  readonly format?: LogFormat;
  /**
   * Where lines go: a writable stream (an object with a `write` method), such as `process.stdout`
   * or `fs.createWriteStream(path)`. Default: stderr, written synchronously so that nothing is lost on exit.
   */
  readonly destination?: NodeJS.WritableStream;
}

/** What a task's lines are tagged with. */
export interface TaskLogTags {
  readonly run: string;
  readonly node: string;
  readonly replica: number;
}

interface Settings {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly destination?: NodeJS.WritableStream;
}

let settings: Settings | undefined;
let root: Logger | undefined;
let tags: TaskLogTags | undefined;

function checkLevel(level: unknown, source: string): LogLevel {
  if (typeof level === 'string' && (LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new FlowValidationError('INVALID_OPTION', `${source} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`, {
    details: { option: source },
  });
}

function checkFormat(format: unknown, source: string): LogFormat {
  if (format === 'json' || format === 'pretty') return format;
  throw new FlowValidationError('INVALID_OPTION', `${source} must be "json" or "pretty", got ${JSON.stringify(format)}`, {
    details: { option: source },
  });
}

/** The keys of {@link LoggingOptions}. */
const LOGGING_OPTIONS: readonly string[] = ['level', 'format', 'destination'] satisfies readonly (keyof LoggingOptions)[];

/** What a `destination` must be, as error messages say it. */
const DESTINATION_REQUIREMENT =
  'must be a writable stream, an object with a write(line) method such as process.stdout or fs.createWriteStream(path) (a file name or descriptor is not one)';

function invalidOption(option: string, requirement: string, value: unknown): FlowValidationError {
  const shown = describeValue(value);
  return new FlowValidationError('INVALID_OPTION', `${option} ${requirement}, got ${shown}`, { details: { option, value: shown } });
}

/**
 * Checks the shape of `configureLogging`'s options (`flow.run`'s `log`): an object of known keys
 * and a destination lines can be written to. Pino would take a number or a string as a file to
 * open, and fail at the first line logged on anything else.
 */
function checkLoggingOptions(options: unknown): asserts options is LoggingOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidOption('log', 'must be an object ({ level, format, destination })', options);
  }
  for (const key of Object.keys(options)) {
    if (!LOGGING_OPTIONS.includes(key)) {
      throw invalidOption(
        `log.${key}`,
        `is not an option (the options are ${LOGGING_OPTIONS.join(', ')})`,
        (options as Record<string, unknown>)[key],
      );
    }
  }
  const { destination } = options as { destination?: unknown };
  if (destination !== undefined && typeof (destination as { write?: unknown } | null)?.write !== 'function') {
    throw invalidOption('log.destination', DESTINATION_REQUIREMENT, destination);
  }
}

/** Options over the environment over the defaults; a wrong value is an `INVALID_OPTION` naming its source. */
function resolveSettings(options: LoggingOptions, env: NodeJS.ProcessEnv): Settings {
  checkLoggingOptions(options);
  const level =
    options.level !== undefined
      ? checkLevel(options.level, 'log.level')
      : env[LOG_LEVEL_ENV]
        ? checkLevel(env[LOG_LEVEL_ENV], LOG_LEVEL_ENV)
        : 'info';
  const format =
    options.format !== undefined
      ? checkFormat(options.format, 'log.format')
      : env[LOG_FORMAT_ENV]
        ? checkFormat(env[LOG_FORMAT_ENV], LOG_FORMAT_ENV)
        : 'pretty';
  return options.destination === undefined ? { level, format } : { level, format, destination: options.destination };
}

function build(current: Settings): Logger {
  const pino = loadPino();
  const colorize = current.destination === undefined && process.stderr.isTTY === true;
  const destination: DestinationStream =
    current.format === 'pretty'
      ? loadPrettyStream()({
          destination: current.destination ?? 2,
          sync: true,
          colorize,
          translateTime: 'HH:MM:ss.l',
          // The task's name and the warning's code lead the message, as Node prints `[CODE]`.
          ignore: 'pid,hostname,run,node,replica,code,type',
          // A function, not a template: a template prints a falsy value as nothing, replica 0 as `node[]`.
          // In-process tasks tag nothing: a record naming its node and `taskIndex` itself (a node
          // giving up on an item) is led the same way; it printed as `node[undefined]`.
          messageFormat: (log, messageKey) =>
            `${log.node === undefined ? '' : `${String(log.node)}${taskLabel(log.replica ?? log.taskIndex)} `}${log.code === undefined ? '' : `[${String(log.code)}] `}${String(log[messageKey])}`,
        })
      : ((current.destination as DestinationStream | undefined) ?? pino.destination({ fd: 2, sync: true }));
  const logger = pino({ name: 'vf', level: current.level, base: { pid: process.pid } }, destination);
  return tags === undefined ? logger : logger.child(tags);
}

/**
 * Sets the framework's log level, format and destination for this process and for the task
 * processes it starts from now on (they inherit level and format through `VF_LOG_LEVEL` and
 * `VF_LOG_FORMAT`). Options left out fall back to those variables, then to `info` and `pretty`.
 * Throws `INVALID_OPTION` naming the option for a level or format it does not know, a destination
 * that is not a writable stream, or a key that is not an option.
 *
 * @example
 * ```ts
 * configureLogging({ level: 'debug', format: 'json' }); // or VF_LOG_LEVEL=debug VF_LOG_FORMAT=json
 * ```
 */
export function configureLogging(options: LoggingOptions = {}): void {
  settings = resolveSettings(options, process.env);
  root = undefined;
}

/** Whether a line at `level` would be logged; cheap (it loads no logger), for lines that cost to build. */
export function isLogLevelEnabled(level: Exclude<LogLevel, 'silent'>): boolean {
  settings ??= resolveSettings({}, process.env);
  return settings.level !== 'silent' && LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(settings.level);
}

/** `[replica]` after a node's name, or nothing when the record does not say which task it comes from. */
function taskLabel(replica: unknown): string {
  return replica === undefined ? '' : `[${String(replica)}]`;
}

/** The framework's logger: lines from a task process carry `run`, `node` and `replica`. */
export function getLogger(): Logger {
  if (root === undefined) {
    settings ??= resolveSettings({}, process.env);
    root = build(settings);
  }
  return root;
}

/**
 * What a task process needs to log as this process does: level, format and the run's id.
 * The host puts it in every task's environment.
 */
export function taskLoggingEnv(runId: string): Record<string, string> {
  settings ??= resolveSettings({}, process.env);
  return { [LOG_LEVEL_ENV]: settings.level, [LOG_FORMAT_ENV]: settings.format, [RUN_ID_ENV]: runId };
}

/** A new flow run's id: short, for log lines, and unique enough to tell runs apart. */
export function newRunId(): string {
  return randomUUID().slice(0, 8);
}

/** In a task process: tag every line from now on with the task's run, node and replica (undefined: no tags). */
export function tagTaskLogs(taskTags: TaskLogTags | undefined): void {
  tags = taskTags;
  root = undefined;
}
