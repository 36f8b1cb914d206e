import { afterEach, describe, expect, it } from 'vitest';
import { emitWarningOnce } from './warnings.js';

describe('emitWarningOnce', () => {
  const seen: Array<Error & { code?: string }> = [];
  const listener = (warning: Error) => seen.push(warning);
  afterEach(() => {
    process.removeListener('warning', listener);
    seen.length = 0;
  });

  it('emits a warning the first time only, per type, code and message', async () => {
    process.on('warning', listener);
    emitWarningOnce('test warning A', { code: 'VF_TEST_ONCE' });
    emitWarningOnce('test warning A', { code: 'VF_TEST_ONCE' });
    emitWarningOnce('test warning B', { code: 'VF_TEST_ONCE' });
    emitWarningOnce('test warning A', { code: 'VF_TEST_OTHER' });
    emitWarningOnce('test warning A', { code: 'VF_TEST_ONCE', type: 'DeprecationWarning' });
    emitWarningOnce('test warning A', { code: 'VF_TEST_ONCE', type: 'DeprecationWarning' });
    // Warnings are emitted on the next tick.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const ours = seen.filter((warning) => warning.code?.startsWith('VF_TEST_'));
    expect(ours.map(({ name, code, message }) => [name, code, message])).toEqual([
      ['Warning', 'VF_TEST_ONCE', 'test warning A'],
      ['Warning', 'VF_TEST_ONCE', 'test warning B'],
      ['Warning', 'VF_TEST_OTHER', 'test warning A'],
      ['DeprecationWarning', 'VF_TEST_ONCE', 'test warning A'],
    ]);
  });
});
