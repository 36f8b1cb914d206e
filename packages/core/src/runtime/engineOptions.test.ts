import { describe, expect, it } from 'vitest';
import { isVfError } from '../errors.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { MAX_TIMEOUT_MS, resolveInProcessEngineOptions, resolveProcessEngineOptions } from './engineOptions.js';
import { forkSpawner } from './forkSpawner.js';

/** The error `action` throws, checked to be a coded `INVALID_OPTION` naming `option`. */
function refusal(action: () => unknown, option: string): Error {
  let error: unknown;
  try {
    action();
  } catch (caught) {
    error = caught;
  }
  expect(isVfError(error)).toBe(true);
  expect(error).toMatchObject({ name: 'FlowValidationError', code: 'INVALID_OPTION', details: { option } });
  return error as Error;
}

describe('process engine options', () => {
  const resolve = (options: unknown) => resolveProcessEngineOptions('TestEngine', options);

  it('fills in the defaults', () => {
    expect(resolve(undefined)).toEqual({
      queueSize: 8,
      transport: 'ipc',
      host: '127.0.0.1',
      spawner: forkSpawner,
      placement: {},
      curve: false,
      readyTimeoutMs: 60_000,
      killGraceMs: 2_000,
      stopTimeoutMs: 30_000,
      restartOnFailure: false,
      livenessTimeoutMs: 10_000,
      sharedMemory: true,
    });
  });

  it('refuses a key that is no option (a typo would pass for the default): INVALID_OPTION naming it and the options', () => {
    const error = refusal(() => resolve({ queueSiz: 3 }), 'queueSiz');
    expect(error.message).toBe(
      'TestEngine: "queueSiz" is not an option (options: queueSize, transport, host, spawner, placement, curve, readyTimeoutMs, killGraceMs, stopTimeoutMs, restartOnFailure, livenessTimeoutMs, sharedMemory)',
    );
    refusal(() => new InProcessEngine({ queueSiz: 3 } as never), 'queueSiz');
  });

  it('takes sharedMemory as a boolean, on by default', () => {
    expect(resolve({}).sharedMemory).toBe(true);
    expect(resolve({ sharedMemory: false }).sharedMemory).toBe(false);
    expect(refusal(() => resolve({ sharedMemory: 'no' }), 'sharedMemory').message).toContain('sharedMemory must be a boolean, got "no"');
  });

  it('refuses a livenessTimeoutMs under 100 ms or over 2^31-1 ms', () => {
    expect(refusal(() => resolve({ livenessTimeoutMs: 50 }), 'livenessTimeoutMs').message).toContain('from 100 to 2147483647');
    expect(refusal(() => resolve({ livenessTimeoutMs: 3e9 }), 'livenessTimeoutMs').message).toContain('got 3000000000');
  });

  it.each(['readyTimeoutMs', 'killGraceMs', 'stopTimeoutMs'])(
    '%s over 2^31-1 ms (which Node would fire after 1 ms) is refused',
    (option) => {
      const error = refusal(() => resolve({ [option]: 3e9 }), option);
      expect(error.message).toBe(
        `TestEngine: ${option} must be a number of ms from 0 to 2147483647 (about 24.8 days, the longest a Node timer can wait), got 3000000000`,
      );
      expect(resolve({ [option]: MAX_TIMEOUT_MS })[option as 'readyTimeoutMs']).toBe(MAX_TIMEOUT_MS);
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5000', null]) refusal(() => resolve({ [option]: bad }), option);
    },
  );

  it.each([
    ['queueSize', 0],
    ['queueSize', 1.5],
    ['queueSize', '8'],
    ['transport', 'udp'],
    ['host', ''],
    ['host', 42],
    ['spawner', 42],
    ['spawner', {}],
    ['curve', 'yes'],
    ['restartOnFailure', 1],
  ])('%s: %j is refused with a message naming the option and what it must be', (option, value) => {
    const error = refusal(() => resolve({ [option]: value }), option);
    expect(error.message).toMatch(new RegExp(`^TestEngine: ${option} must be .+, got `));
  });

  it('refuses options that are not an object', () => {
    expect(() => resolve(42)).toThrow(/TestEngine: options must be an object, got 42/);
  });

  it('keeps a spawner given as an object with spawn()', () => {
    const spawner = { spawn: forkSpawner.spawn };
    expect(resolve({ spawner }).spawner).toBe(spawner);
  });
});

describe('InProcessEngine options', () => {
  it('queueSize: a positive integer, default 8', () => {
    expect(resolveInProcessEngineOptions(undefined)).toEqual({ queueSize: 8, stopTimeoutMs: 30_000 });
    expect(refusal(() => new InProcessEngine({ queueSize: 0 }), 'queueSize').message).toBe(
      'InProcessEngine: queueSize must be a positive integer, got 0',
    );
    refusal(() => new InProcessEngine({ queueSize: Number.NaN }), 'queueSize');
  });

  it('stopTimeoutMs: a number of ms, default 30 000, as on the batch engine', () => {
    expect(resolveInProcessEngineOptions({ stopTimeoutMs: 500 })).toEqual({ queueSize: 8, stopTimeoutMs: 500 });
    refusal(() => new InProcessEngine({ stopTimeoutMs: -1 }), 'stopTimeoutMs');
  });
});
