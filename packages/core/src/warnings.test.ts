import { afterEach, describe, expect, it } from 'vitest';
import { captureLogs } from './testing/captureLogs.js';
import { emitWarningOnce } from './warnings.js';

describe('emitWarningOnce', () => {
  let logs: ReturnType<typeof captureLogs> | undefined;
  afterEach(() => logs?.stop());

  it('logs a warning the first time only, per type, code and message', () => {
    logs = captureLogs();
    emitWarningOnce('test warning A', { code: 'VF_TEST_ONCE' });
    emitWarningOnce('test warning A', { code: 'VF_TEST_ONCE' });
    emitWarningOnce('test warning B', { code: 'VF_TEST_ONCE' });
    emitWarningOnce('test warning A', { code: 'VF_TEST_OTHER' });
    emitWarningOnce('test warning A', { code: 'VF_TEST_ONCE', type: 'DeprecationWarning' });
    emitWarningOnce('test warning A', { code: 'VF_TEST_ONCE', type: 'DeprecationWarning' });
    const ours = logs.records.filter((record) => String(record.code).startsWith('VF_TEST_'));
    expect(ours.map(({ level, type, code, msg }) => [level, type, code, msg])).toEqual([
      [40, 'Warning', 'VF_TEST_ONCE', 'test warning A'],
      [40, 'Warning', 'VF_TEST_ONCE', 'test warning B'],
      [40, 'Warning', 'VF_TEST_OTHER', 'test warning A'],
      [40, 'DeprecationWarning', 'VF_TEST_ONCE', 'test warning A'],
    ]);
  });
});
