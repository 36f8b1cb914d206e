import { describe, expect, it } from 'vitest';
import { takeRootOption } from './groupsExtension.js';

describe('takeRootOption', () => {
  it('takes --root DIR and --root=DIR anywhere before --, the last one winning', () => {
    expect(takeRootOption(['-o', 'analyze', '--root', 'a', '--pretend'], 'default')).toEqual({
      root: 'a',
      rest: ['-o', 'analyze', '--pretend'],
    });
    expect(takeRootOption(['--root=a', '-j', '12', '--root', 'b'], 'default')).toEqual({ root: 'b', rest: ['-j', '12'] });
    expect(takeRootOption(['-o', 'analyze'], 'default')).toEqual({ root: 'default', rest: ['-o', 'analyze'] });
  });

  it('leaves what follows -- and a --root without a value alone', () => {
    expect(takeRootOption(['exec', '--', '--root', 'x'], 'default')).toEqual({ root: 'default', rest: ['exec', '--', '--root', 'x'] });
    expect(takeRootOption(['--root'], 'default')).toEqual({ root: 'default', rest: ['--root'] });
  });
});
