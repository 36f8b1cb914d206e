import { describe, expect, it } from 'vitest';
import { taskNodeArguments } from './forkSpawner.js';

describe('taskNodeArguments', () => {
  it('gives a task on another machine the same V8 heap options as a local one, before its entry and label', () => {
    const args = taskNodeArguments({ taskId: 0, label: 'sink[0]', env: {}, typescript: false });
    expect(args.at(-1)).toBe('sink[0]');
    for (const heapOption of ['--initial-old-space-size=64', '--max-semi-space-size=4']) {
      const option = args.indexOf(heapOption);
      expect(option, heapOption).toBeGreaterThanOrEqual(0);
      expect(option, heapOption).toBeLessThan(args.length - 2);
    }
  });
});
