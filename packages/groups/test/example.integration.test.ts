import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../src/runCommand.js';
import { Workspace } from '../src/workspace.js';
import { nodeWithTsx } from './helpers.js';

const example = new URL('../examples/project.ts', import.meta.url).pathname;

describe('the example project, run as a program', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'vf-groups-example-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const cli = (...argv: string[]) =>
    runCommand(nodeWithTsx[0]!, [...nodeWithTsx.slice(1), example, ...argv], {
      env: { EXAMPLE_ROOT: root, VF_SCHEDULER: 'slurm' },
      timeoutMs: 60_000,
    });

  it('init, run (three passes, a flow inside), status', { timeout: 120_000 }, async () => {
    expect((await cli('init')).stdout).toMatch(/^3 jobs in /);
    const run = await cli('run');
    expect(run.stderr).toBe('');
    expect([run.code, run.stdout]).toEqual([0, 'ran 9 operation(s) in 3 pass(es)\n']);
    const sums = new Workspace(join(root, 'workspace')).jobs().map((job) => [job.sp.n, job.doc.get('sum_of_squares')]);
    const expected = (n: number) => (n * (n + 1) * (2 * n + 1)) / 6;
    expect(sums.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([10, 100, 1000].map((n) => [n, expected(n)]));
    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/│ report\s+│\s+│ 0\/3\s+│ 3\/3/);
    const bad = await cli('run', '-o', 'pipeline', 'prepare');
    expect([bad.code, bad.stderr]).toEqual([1, expect.stringContaining('[OVERLAPPING_GROUPS]')]);
  });
});
