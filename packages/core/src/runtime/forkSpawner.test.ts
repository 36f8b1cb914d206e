import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TASK_PRELOAD } from '../nativeHelper.js';
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

  it("keeps the heap options' effect, and the code-cache tag of a plain node (built-ins load from their code cache)", () => {
    const nodeOptions = taskNodeArguments({ taskId: 0, label: 'sink[0]', env: {}, typescript: false }).slice(0, -2);
    // Short-lived garbage grows V8's young generation to its cap: 2 semi-spaces.
    const probe = `const v8 = require('node:v8');
      let kept = [];
      for (let round = 0; round < 200; round++) { for (let i = 0; i < 20000; i++) kept.push({ i, s: 'x' + i }); kept = kept.slice(-5000); }
      const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
      console.log(JSON.stringify({ tag: v8.cachedDataVersionTag(), youngBytes: young.space_size }));`;
    const task = JSON.parse(execFileSync(process.execPath, [...nodeOptions, '-e', probe], { encoding: 'utf8' })) as {
      tag: number;
      youngBytes: number;
    };
    const plainTag = Number(execFileSync(process.execPath, ['-p', "require('node:v8').cachedDataVersionTag()"], { encoding: 'utf8' }));
    expect(task.tag).toBe(plainTag);
    expect(task.youngBytes).toBeLessThanOrEqual(2 * 4 * 1024 * 1024);
    expect(task.youngBytes).toBeGreaterThan(0);
  });

  it('resets the heap options through node:v8 where the native helper is not built', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vf-reset-'));
    try {
      // A copy of the preload with no build/ beside it: the helper cannot load.
      const preload = join(dir, 'taskPreload.cjs');
      copyFileSync(TASK_PRELOAD, preload);
      const nodeOptions = taskNodeArguments({ taskId: 0, label: 'sink[0]', env: {}, typescript: false })
        .slice(0, -2)
        .map((option) => (option === TASK_PRELOAD ? preload : option));
      expect(nodeOptions).toContain(preload);
      const probe = "const v8 = require('node:v8'); console.log(v8.cachedDataVersionTag());";
      const tag = Number(execFileSync(process.execPath, [...nodeOptions, '-e', probe], { encoding: 'utf8' }));
      const plainTag = Number(execFileSync(process.execPath, ['-p', "require('node:v8').cachedDataVersionTag()"], { encoding: 'utf8' }));
      expect(tag).toBe(plainTag);
      const unreset = Number(
        execFileSync(process.execPath, [...nodeOptions.filter((option) => option.startsWith('--') && option.includes('=')), '-e', probe], {
          encoding: 'utf8',
        }),
      );
      expect(unreset).not.toBe(plainTag);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
