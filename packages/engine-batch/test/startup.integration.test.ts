import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Flow, isVfError, TaskFailedError } from '@vf/core';
import { forkSpawner, type Launcher, type Spawner, srunLauncher } from '@vf/core/engine';
import { findLeftovers, isProcessAlive } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { SOURCE_NODE_ARGS } from './helpers.js';

const startupUrl = new URL('./flows/startup.ts', import.meta.url);
const execFileAsync = promisify(execFile);

/** A local address other machines could reach (placement refuses loopback); a documentation address without one. */
function reachableHost(): string {
  const candidates = Object.values(networkInterfaces()).flat();
  return candidates.find((entry) => entry !== undefined && entry.family === 'IPv4' && !entry.internal)?.address ?? '192.0.2.1';
}

/** The error `promise` rejects with; fails the test if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('start-up faults (batch engine): nothing left behind, run() rejects with a coded error, join() resolves', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-startup-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a spawner that throws on the second task', { timeout: 60_000 }, async () => {
    let calls = 0;
    const spawner: Spawner = {
      spawn(request) {
        calls += 1;
        if (calls === 2) throw new Error('fork failed: EAGAIN (too many processes)');
        return forkSpawner.spawn(request);
      },
    };
    const flow = await Flow.load(startupUrl, { out: join(dir, 'out.txt') });
    const engine = new BatchExecutionEngine({ spawner, killGraceMs: 500 });
    const error = await rejectionOf(flow.run(engine));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error).toMatchObject({ code: 'TASK_FAILED', nodeName: 'relay', taskIndex: 0 });
    expect((error as TaskFailedError).cause).toMatchObject({ code: 'SPAWN_FAILED' });
    expect((error as Error).message).toContain('EAGAIN');
    // Task 0 had started: it is gone by the time run() rejects, and so is the socket directory.
    const firstPid = engine.pids[0];
    expect(firstPid).toBeTypeOf('number');
    expect(isProcessAlive(firstPid as number)).toBe(false);
    expect(engine.socketDirectory).toBeDefined();
    expect(existsSync(engine.socketDirectory as string)).toBe(false);
    expect(findLeftovers(engine)).toEqual([]);
    const report = await flow.join();
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('relay');
  });

  it('a launcher that throws on the second task', { timeout: 60_000 }, async () => {
    const launcher: Launcher = {
      address: reachableHost(),
      description: 'a launcher whose machine is gone',
      spawn() {
        throw new Error('ssh: connect to host: No route to host');
      },
    };
    const flow = await Flow.load(startupUrl, { out: join(dir, 'out.txt') });
    const engine = new BatchExecutionEngine({ host: reachableHost(), placement: { relay: launcher }, killGraceMs: 500 });
    const error = await rejectionOf(flow.run(engine));
    expect(error).toMatchObject({ code: 'TASK_FAILED', nodeName: 'relay' });
    expect((error as TaskFailedError).cause).toMatchObject({ code: 'SPAWN_FAILED' });
    expect((error as Error).message).toContain('a launcher whose machine is gone');
    expect(isProcessAlive(engine.pids[0] as number)).toBe(false);
    expect(findLeftovers(engine)).toEqual([]);
    expect((await flow.join()).status).toBe('failed');
  });

  it('a launcher whose command does not exist (it fails after spawn() returned)', { timeout: 60_000 }, async () => {
    const launcher = srunLauncher({ address: reachableHost(), srun: join(dir, 'no-such-srun') });
    const flow = await Flow.load(startupUrl, { out: join(dir, 'out.txt') });
    const engine = new BatchExecutionEngine({ host: reachableHost(), placement: { relay: launcher }, killGraceMs: 500 });
    const error = await rejectionOf(flow.run(engine));
    expect(error).toMatchObject({ code: 'TASK_FAILED', nodeName: 'relay' });
    expect(findLeftovers(engine)).toEqual([]);
    expect((await flow.join()).status).toBe('failed');
  });

  it('a flow module that fails to build in the task processes', { timeout: 60_000 }, async () => {
    const flow = await Flow.load(startupUrl, { out: join(dir, 'out.txt'), throwInTask: true });
    const engine = new BatchExecutionEngine({ killGraceMs: 500 });
    const error = await rejectionOf(flow.run(engine));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(isVfError(error)).toBe(true);
    expect((error as Error).message).toContain('cannot load the codec library');
    expect(engine.pids.length).toBe(3);
    expect(findLeftovers(engine)).toEqual([]);
    expect((await flow.join()).status).toBe('failed');
  });

  it('spawner: 42 is refused when the engine is made, before anything exists', () => {
    let error: unknown;
    try {
      new BatchExecutionEngine({ spawner: 42 as unknown as Spawner });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ name: 'FlowValidationError', code: 'INVALID_OPTION', details: { option: 'spawner' } });
    expect((error as Error).message).toMatch(/spawner must be .*spawn/);
  });
});

/** Node's internal modules (`process.moduleLoadList`) that a task of a flow that ran to completion had loaded. */
async function internalModulesOfATask(): Promise<string[]> {
  return (await loadedByATask()).internal;
}

/** What a task of a flow that ran to completion had loaded: Node's internal modules, and the files its CommonJS loader loaded. */
async function loadedByATask(): Promise<{ internal: string[]; files: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'vf-startup-'));
  try {
    const loadedOut = join(dir, 'loaded.json');
    const flow = await Flow.load(startupUrl, { out: join(dir, 'out.txt'), loadedOut });
    await flow.run(new BatchExecutionEngine({ queueSize: 4 }));
    expect((await flow.join()).status).toBe('completed');
    const loaded = JSON.parse(readFileSync(loadedOut, 'utf8')) as { internal: string[]; files: string[] };
    // The probe is real: the task did load internal modules, among them those zeromq's loader needs.
    expect(loaded.internal.length).toBeGreaterThan(50);
    return loaded;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('a task process', () => {
  it('loads zeromq with require, so Node never scans it for export names (cjs-module-lexer: ~10 ms of CPU per task)', {
    timeout: 60_000,
  }, async () => {
    expect((await internalModulesOfATask()).filter((name) => name.includes('cjs-module-lexer'))).toEqual([]);
  });

  it("takes zeromq's JavaScript from its program and loads only its addon: Node's loader found and compiled those files in ~14 ms of CPU per task", {
    timeout: 60_000,
  }, async () => {
    const { files } = await loadedByATask();
    const zeromqFiles = files.filter((file) => /[\\/](zeromq|cmake-ts)[\\/]/.test(file));
    expect(zeromqFiles).toHaveLength(1);
    expect(zeromqFiles[0]).toMatch(/[\\/]zeromq[\\/]build[\\/].*\.node$/);
  });

  it('sets its V8 heap options back to their defaults without node:v8, which would load (with its streams) before the reset, uncached', {
    timeout: 60_000,
  }, async () => {
    const loaded = await internalModulesOfATask();
    expect(loaded.filter((name) => name === 'NativeModule v8' || name === 'NativeModule internal/heap_utils')).toEqual([]);
  });
});

describe('a fresh host', () => {
  it('runs a flow without loading zod (~100 ms to load: options and control messages are checked by hand)', {
    timeout: 60_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vf-startup-'));
    try {
      const script = `
        const { Flow } = await import('@vf/core');
        const { BatchExecutionEngine } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)});
        const flow = await Flow.load(${JSON.stringify(startupUrl.href)}, { out: ${JSON.stringify(join(dir, 'out.txt'))} });
        await flow.run(new BatchExecutionEngine({ queueSize: 4 }));
        const report = await flow.join();
        const { default: Module } = await import('node:module');
        console.log(JSON.stringify({ status: report.status, zodFiles: Object.keys(Module._cache).filter((file) => file.includes('/zod/')).length }));`;
      const { stdout } = await execFileAsync(process.execPath, [...SOURCE_NODE_ARGS, '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('.', import.meta.url)),
        encoding: 'utf8',
      });
      expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '')).toEqual({ status: 'completed', zodFiles: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
