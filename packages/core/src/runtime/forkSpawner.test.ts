import { describe, expect, it } from 'vitest';
import { taskNodeArguments } from './forkSpawner.js';

describe('taskNodeArguments', () => {
  it('gives a task on another machine the same V8 heap option as a local one, before its entry and label', () => {
    const args = taskNodeArguments({ taskId: 0, label: 'sink[0]', env: {}, typescript: false });
    const option = args.indexOf('--initial-old-space-size=64');
    expect(option).toBeGreaterThanOrEqual(0);
    expect(args.at(-1)).toBe('sink[0]');
    expect(option).toBeLessThan(args.length - 2);
  });
});
