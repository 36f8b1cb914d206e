import { Writable } from 'node:stream';
import { configureLogging, type LogLevel } from '../logging.js';

/** One line of the framework's log, as JSON. */
export interface LogRecord {
  /** pino's numeric level: 10 trace … 60 fatal (40 is warn). */
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/**
 * Sends the framework's log of this process to an array, as JSON records, until `stop()`, which
 * puts back the default (stderr, `VF_LOG_LEVEL` / `VF_LOG_FORMAT`).
 *
 * @example
 * ```ts
 * const logs = captureLogs();
 * emitWarningOnce('careful', { code: 'VF_X' });
 * logs.stop();
 * expect(logs.records.map((r) => r.code)).toEqual(['VF_X']);
 * ```
 */
export function captureLogs(level: LogLevel = 'info'): { readonly records: LogRecord[]; stop(): void } {
  const records: LogRecord[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      // pino writes one whole line per call.
      for (const line of String(chunk).split('\n')) if (line !== '') records.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  configureLogging({ level, format: 'json', destination });
  return { records, stop: () => configureLogging() };
}
