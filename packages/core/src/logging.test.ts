import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { isVfError } from './errors.js';
import { configureLogging, getLogger, isLogLevelEnabled, LOG_LEVEL_ENV, tagTaskLogs, taskLoggingEnv } from './logging.js';
import { captureLogs } from './testing/captureLogs.js';

/** A stream that keeps what is written to it as text. */
function textSink() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

describe('the framework logger', () => {
  const savedLevel = process.env[LOG_LEVEL_ENV];
  afterEach(() => {
    if (savedLevel === undefined) delete process.env[LOG_LEVEL_ENV];
    else process.env[LOG_LEVEL_ENV] = savedLevel;
    configureLogging();
  });

  it('writes JSON lines at the level asked for, and nothing below it', () => {
    const logs = captureLogs('warn');
    getLogger().info('not shown');
    getLogger().warn({ code: 'VF_X' }, 'shown');
    logs.stop();
    expect(logs.records.map(({ level, code, msg, name }) => ({ level, code, msg, name }))).toEqual([
      { level: 40, code: 'VF_X', msg: 'shown', name: 'vf' },
    ]);
  });

  it('takes its level from VF_LOG_LEVEL when no option sets it, and tells task processes', () => {
    process.env[LOG_LEVEL_ENV] = 'debug';
    const sink = textSink();
    configureLogging({ format: 'json', destination: sink.stream });
    getLogger().debug('a debug line');
    expect(sink.text()).toContain('"msg":"a debug line"');
    expect(taskLoggingEnv('run1')).toEqual({ VF_LOG_LEVEL: 'debug', VF_LOG_FORMAT: 'json', VF_RUN_ID: 'run1' });
  });

  it('prints one readable line per record in the pretty format, with the code in brackets', () => {
    const sink = textSink();
    configureLogging({ format: 'pretty', destination: sink.stream });
    getLogger().warn({ code: 'VF_X' }, 'careful');
    expect(sink.text()).toMatch(/WARN.*\[VF_X\] careful\n$/);
    expect(sink.text().split('\n')).toHaveLength(2);
  });

  it("leads a task's pretty lines with its node and replica, replica 0 included (it printed as `numbers[]`)", () => {
    const sink = textSink();
    configureLogging({ format: 'pretty', destination: sink.stream });
    try {
      for (const replica of [0, 1]) {
        tagTaskLogs({ run: 'run1', node: 'numbers', replica });
        getLogger().warn({ code: 'VF_X' }, `from replica ${replica}`);
      }
    } finally {
      tagTaskLogs(undefined);
    }
    getLogger().info('from the host');
    const lines = sink.text().trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/WARN.*: numbers\[0\] \[VF_X\] from replica 0$/);
    expect(lines[1]).toMatch(/WARN.*: numbers\[1\] \[VF_X\] from replica 1$/);
    expect(lines[2]).toMatch(/INFO.*: from the host$/);
  });

  it("leads an in-process task's line by the node and task the record names (it printed as `faulty[undefined]`)", () => {
    const sink = textSink();
    configureLogging({ format: 'pretty', destination: sink.stream });
    // InProcessEngine tags no task: a node giving up on an item names its node and taskIndex itself.
    getLogger().warn({ node: 'faulty', taskIndex: 2 }, 'gave up');
    getLogger().warn({ node: 'faulty' }, 'no task');
    // Fields the line does not lead with (taskIndex) follow on lines of their own.
    const lines = sink
      .text()
      .split('\n')
      .filter((line) => line.includes('WARN'));
    expect(lines[0]).toMatch(/WARN.*: faulty\[2\] gave up$/);
    expect(lines[1]).toMatch(/WARN.*: faulty no task$/);
  });

  it('refuses a level or format it does not know, naming where it came from', () => {
    expect(() => configureLogging({ level: 'loud' as never })).toThrow(/log\.level must be one of fatal, error, warn, info/);
    process.env[LOG_LEVEL_ENV] = 'verbose';
    let caught: unknown;
    try {
      configureLogging({});
    } catch (error) {
      caught = error;
    }
    expect(isVfError(caught) && caught.code).toBe('INVALID_OPTION');
    expect(String(caught)).toContain('VF_LOG_LEVEL must be one of');
    expect(() => configureLogging({ level: 'info', format: 'xml' as never })).toThrow(/log\.format must be "json" or "pretty"/);
  });
});

describe('configureLogging refusing what it cannot log to', () => {
  afterEach(() => configureLogging());

  /** The INVALID_OPTION that `action` throws. */
  function refusal(action: () => unknown): { message: string; details?: Record<string, unknown> } {
    let caught: unknown;
    try {
      action();
    } catch (error) {
      caught = error;
    }
    expect(isVfError(caught) && caught.code, String(caught)).toBe('INVALID_OPTION');
    return caught as { message: string; details?: Record<string, unknown> };
  }

  it.each([
    ['a file descriptor (every line after it disappeared)', 42],
    ['a file name (every line after it disappeared)', 'stdout'],
    ['an object without write() (the next line crashed the process)', { x: 1 }],
    ['null', null],
  ])('refuses a destination that is %s with INVALID_OPTION naming log.destination', (_label, destination) => {
    const sink = textSink();
    configureLogging({ format: 'json', destination: sink.stream });
    const error = refusal(() => configureLogging({ destination } as never));
    expect(error.details).toMatchObject({ option: 'log.destination' });
    expect(error.message).toMatch(/^log\.destination must be a writable stream, an object with a write\(line\) method/);
    // The settings before it are kept: lines still reach the stream.
    getLogger().info('still logging');
    expect(sink.text()).toContain('"msg":"still logging"');
  });

  it('refuses a key that is not an option, and options that are not an object', () => {
    const sink = textSink();
    const typo = refusal(() => configureLogging({ levle: 'debug', destination: sink.stream } as never));
    expect(typo.details).toMatchObject({ option: 'log.levle' });
    expect(typo.message).toContain('log.levle is not an option (the options are level, format, destination)');
    expect(refusal(() => configureLogging('debug' as never)).details).toMatchObject({ option: 'log' });
  });

  it('takes any writable stream as destination', () => {
    const sink = textSink();
    configureLogging({ format: 'json', destination: sink.stream });
    getLogger().info('to the stream');
    expect(sink.text()).toContain('"msg":"to the stream"');
  });
});

describe('isLogLevelEnabled', () => {
  afterEach(() => configureLogging());

  it('says whether a level passes the configured one, silent passing none', () => {
    configureLogging({ level: 'warn' });
    expect(isLogLevelEnabled('error')).toBe(true);
    expect(isLogLevelEnabled('warn')).toBe(true);
    expect(isLogLevelEnabled('info')).toBe(false);
    configureLogging({ level: 'silent' });
    expect(isLogLevelEnabled('fatal')).toBe(false);
  });
});
