// Several `run` processes on one workspace, and the walltime of a forked operation: the guarantees
// that only show with real processes (locks across processes, process-group kill).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from '../src/runCommand.js';
import { concurrencyScript, createConcurrencyProject } from './fixtures/concurrency.js';
import { collector, nodeWithTsx, tsxExecutable } from './helpers.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vf-groups-concurrency-'));
  // Forked operations run the fixture as a program, which finds its project here.
  process.env.VF_PROJECT_ROOT = root;
});
afterEach(() => {
  delete process.env.VF_PROJECT_ROOT;
  rmSync(root, { recursive: true, force: true });
});

const cliWith = (env: Record<string, string>, ...argv: string[]) =>
  runCommand(nodeWithTsx[0]!, [...nodeWithTsx.slice(1), concurrencyScript, ...argv], {
    env: { VF_PROJECT_ROOT: root, VF_SCHEDULER: '', ...env },
    timeoutMs: 90_000,
  });
const cli = (...argv: string[]) => cliWith({}, ...argv);

async function waitUntil(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('concurrent runs on one workspace', () => {
  it('loses no document update when two processes write one job at once', { timeout: 120_000 }, async () => {
    const job = createConcurrencyProject(root).openJob({ n: 1 }).init();
    const [a, b] = await Promise.all([cli('run', '-o', 'hammer_a', '-j', job.id), cli('run', '-o', 'hammer_b', '-j', job.id)]);
    expect([a.code, a.stderr, b.code, b.stderr]).toEqual([0, '', 0, '']);
    const keys = Object.keys(job.doc.data());
    expect(keys.filter((key) => key.startsWith('hammer_a_'))).toHaveLength(300);
    expect(keys.filter((key) => key.startsWith('hammer_b_'))).toHaveLength(300);
  });

  it('never runs an operation twice at once for one job', { timeout: 120_000 }, async () => {
    const job = createConcurrencyProject(root).openJob({ n: 2 }).init();
    const results = await Promise.all([cli('run', '-o', 'once', '-j', job.id), cli('run', '-o', 'once', '-j', job.id)]);
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(job.fn('once.log'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(job.doc.get('done')).toBe(true);
  });
});

describe('an in-process operation that blocks the event loop', () => {
  it('keeps its lock past the stale time: a second run skips it rather than running it beside it', { timeout: 120_000 }, async () => {
    const job = createConcurrencyProject(root).openJob({ n: 7 }).init();
    // The stale time shortened to 2 s (from 30 s) so that the test takes seconds; the operation blocks for 12 s.
    const env = { VF_GROUPS_OPERATION_STALE_MS: '2000', VF_TEST_BLOCK_S: '12' };
    const first = cliWith(env, 'run', '-o', 'blocker', '-j', job.id);
    await waitUntil('the operation to start', 60_000, () => existsSync(job.fn('blocker.log')));
    const startedAt = Date.now();
    // Until the lock was refreshed after it would have gone stale (before, it never was while the
    // event loop was blocked), and at most three stale times.
    await waitUntil('the stale time to pass', 10_000, () => {
      const lock = job.fn('.vf_operation_blocker.lock');
      return (existsSync(lock) && statSync(lock).mtimeMs > startedAt + 2_000) || Date.now() > startedAt + 6_000;
    });
    const second = await cliWith(env, 'run', '-o', 'blocker', '-j', job.id);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/skipped blocker on job \w+: another process is running it/);
    const result = await first;
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(readFileSync(job.fn('blocker.log'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(existsSync(job.fn('.vf_operation_blocker.lock'))).toBe(false);
  });
});

describe('GPUs of forked operations', () => {
  it('run --parallel 2 gives two operations with ngpu 1 running at once disjoint GPUs of CUDA_VISIBLE_DEVICES', {
    timeout: 120_000,
  }, async () => {
    const project = createConcurrencyProject(root);
    const jobs = [project.openJob({ n: 8 }).init(), project.openJob({ n: 9 }).init()];
    const result = await cliWith({ CUDA_VISIBLE_DEVICES: '0,1' }, 'run', '-o', 'gpu', '--parallel', '2');
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(jobs.map((job) => readFileSync(job.fn('gpu.env'), 'utf8')).sort()).toEqual(['0', '1']);
  });

  it('an operation needing more GPUs than CUDA_VISIBLE_DEVICES names fails with NO_GPU before it starts', {
    timeout: 120_000,
  }, async () => {
    const job = createConcurrencyProject(root).openJob({ n: 10 }).init();
    const result = await cliWith({ CUDA_VISIBLE_DEVICES: '-1' }, 'run', '-o', 'gpu');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[NO_GPU\]: operation "gpu" on job \w+ needs ngpu=1 GPU\(s\) but CUDA_VISIBLE_DEVICES="-1" names 0/);
    expect(existsSync(job.fn('gpu.env'))).toBe(false);
  });
});

describe('walltime of a forked operation', () => {
  it('kills the whole process tree, and the operation is not reported complete', { timeout: 120_000 }, async () => {
    const stderr = collector();
    const project = createConcurrencyProject(root, { executable: tsxExecutable, stdout: collector(), stderr });
    const job = project.openJob({ n: 3 }).init();
    const error = await project.run({ operations: ['sleeper'] }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('OPERATION_FAILED');
    expect((error as Error).message).toMatch(/walltime/);
    expect(existsSync(job.fn('sleeper.pids')), 'the operation started before its walltime').toBe(true);
    const pids = JSON.parse(readFileSync(job.fn('sleeper.pids'), 'utf8')) as number[];
    await waitUntil('the operation and its grandchild to be gone', 10_000, () => !pids.some(isProcessAlive));
    expect(await project.isComplete('sleeper', job)).toBe(false);
    expect(readFileSync(job.fn('hooks.log'), 'utf8')).toBe(
      ['start', 'exception', 'exit'].map((event) => `${event} sleeper ${process.pid}\n`).join(''),
    );
    const status = await project.status();
    expect(status.groups.find((group) => group.name === 'sleeper')?.complete).toBe(0);
  });
});

describe('walltime and timeout longer than a Node timer waits', () => {
  it('a walltime of 600 h or a timeout of 3,000,000 s lets the operation finish, not kill it after 1 ms', {
    timeout: 120_000,
  }, async () => {
    const job = createConcurrencyProject(root).openJob({ n: 5 }).init();
    const walltime = await cli('run', '-o', 'brief');
    expect([walltime.code, walltime.stderr]).toEqual([0, '']);
    expect(Number(readFileSync(job.fn('brief.txt'), 'utf8'))).not.toBe(process.pid);
    rmSync(job.fn('brief.txt'));
    const timeout = await cli('run', '-o', 'brief', '-t', '3000000');
    expect([timeout.code, timeout.stderr]).toEqual([0, '']);
    expect(existsSync(job.fn('brief.txt'))).toBe(true);
  });
});

describe('a run ended by a signal', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: kills the forked operation's process group with it, and releases its lock`, { timeout: 120_000 }, async () => {
      const job = createConcurrencyProject(root).openJob({ n: 6 }).init();
      const run = spawn(nodeWithTsx[0]!, [...nodeWithTsx.slice(1), concurrencyScript, 'run', '-o', 'sleeper'], {
        env: { ...process.env, VF_PROJECT_ROOT: root, VF_SCHEDULER: '', VF_TEST_WALLTIME: '1' },
        stdio: 'ignore',
      });
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => run.once('exit', (code, killed) => resolve(killed ?? code)));
      let pids: number[] = [];
      try {
        await waitUntil('the forked operation to start', 60_000, () => existsSync(job.fn('sleeper.pids')));
        pids = JSON.parse(readFileSync(job.fn('sleeper.pids'), 'utf8')) as number[];
        run.kill(signal);
        expect(await exited).toBe(signal);
        // Before, the operation and its grandchild ran on, orphaned; the next run started it again.
        await waitUntil('the operation and its grandchild to be gone', 10_000, () => !pids.some(isProcessAlive));
        expect(existsSync(job.fn('.vf_operation_sleeper.lock'))).toBe(false);
      } finally {
        run.kill('SIGKILL');
        for (const pid of pids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
      }
    });
  }
});

describe('run -t/--timeout', () => {
  it('forks the operation and kills it after the timeout; the run fails naming the timeout', { timeout: 120_000 }, async () => {
    const job = createConcurrencyProject(root).openJob({ n: 4 }).init();
    const result = await cli('run', '-o', 'nap', '-t', '4');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[OPERATION_FAILED\].*ran past its timeout of 4 s \(-t\)/);
    expect(existsSync(job.fn('nap.pid')), 'the operation started before its timeout').toBe(true);
    const pid = Number(readFileSync(job.fn('nap.pid'), 'utf8'));
    expect(pid).not.toBe(process.pid);
    await waitUntil('the operation to be gone', 10_000, () => !isProcessAlive(pid));
    expect(existsSync(job.fn('nap.txt'))).toBe(false);
  });
});
