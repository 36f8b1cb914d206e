import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Flow } from '@vf/core';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { lines, runFixtureHost } from './helpers.js';

// The flow module is compiled once, in the host, into the run's task program (core's
// runtime/taskProgram.ts): these tests check what a user sees of that.
const tsFlowUrl = new URL('./flows/program/flow.ts', import.meta.url);
const jsFlowUrl = new URL('./flows/program/flow.mjs', import.meta.url);
const topLevelAwaitUrl = new URL('./flows/program/topLevelAwait.ts', import.meta.url);
const startupUrl = new URL('./flows/startup.ts', import.meta.url);
const offset = Number(readFileSync(new URL('./flows/program/offset.txt', import.meta.url), 'utf8'));

interface Start {
  readonly node: string;
  readonly argv1: string;
  readonly execArgv: readonly string[];
}

describe('the task program: a flow module compiled once in the host, run by every local task', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-program-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const params = (extra: object = {}) => ({ out: join(dir, 'out.txt'), starts: join(dir, 'starts.jsonl'), ...extra });

  it('a TypeScript flow importing a local .ts file: every task runs the one program, with no loader, and nothing is left', {
    timeout: 60_000,
  }, async () => {
    const p = params();
    const flow = await Flow.load(tsFlowUrl, p);
    const engine = new BatchExecutionEngine();
    await flow.run(engine);
    const report = await flow.join();
    expect(report.status).toBe('completed');
    // helpers.ts read its offset beside itself (its own import.meta.url), and both Step classes kept their names.
    expect((await lines(p.out)).map(Number)).toEqual(Array.from({ length: 10 }, (_, value) => (value + offset) * 2));
    const starts = (await lines(p.starts)).map((line) => JSON.parse(line) as Start);
    expect(starts.map((start) => start.node).sort()).toEqual(['Step_2', 'sink']);
    const programs = new Set(starts.map((start) => start.argv1));
    expect(programs.size).toBe(1);
    const [program] = [...programs] as [string];
    expect(dirname(program)).toBe(engine.socketDirectory);
    // CommonJS: tasks run it through V8's code cache (core's native/loadTaskProgram.cjs).
    expect(program.endsWith('.cjs')).toBe(true);
    for (const start of starts) {
      expect(start.execArgv.join(' ')).not.toMatch(/tsx|--loader/);
      // No loader: the one preload is vf's CommonJS file that resets the task's V8 options (forkSpawner.ts).
      const preloads = start.execArgv.flatMap((arg, index, all) =>
        arg === '--import' || arg === '--require' ? [`${arg} ${String(all[index + 1])}`] : [],
      );
      expect(preloads).toHaveLength(1);
      expect(preloads[0]).toMatch(/^--require .*[\\/]native[\\/]taskPreload\.cjs$/);
    }
    expect(findLeftovers(engine)).toEqual([]);
    expect(existsSync(program)).toBe(false);
  });

  it("a node that throws: the failure's stack points at the line of the user's .ts file", { timeout: 60_000 }, async () => {
    const source = readFileSync(tsFlowUrl, 'utf8').split('\n');
    const throwLine = source.findIndex((line) => line.includes('// THROW-LINE')) + 1;
    expect(throwLine).toBeGreaterThan(0);
    const flow = await Flow.load(tsFlowUrl, params({ throwAt: offset + 3 }));
    const engine = new BatchExecutionEngine({ killGraceMs: 500 });
    await flow.run(engine);
    const report = await flow.join();
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('Step_2');
    const stack = String((report.error?.cause as Error | undefined)?.stack);
    expect(stack).toContain(`step refused ${offset + 3}`);
    expect(stack).toContain(`${fileURLToPath(tsFlowUrl)}:${throwLine}:`);
    expect(findLeftovers(engine)).toEqual([]);
  });

  it.each([
    ['in plain JavaScript (as a build step leaves it)', jsFlowUrl],
    ['with a top-level await', topLevelAwaitUrl],
  ])('a flow module %s runs from the program too', { timeout: 60_000 }, async (_, url) => {
    const p = params();
    const flow = await Flow.load(url, p);
    const engine = new BatchExecutionEngine();
    await flow.run(engine);
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect((await lines(p.out)).map(Number)).toEqual(Array.from({ length: 10 }, (_, value) => value));
    const [start] = (await lines(p.starts)).map((line) => JSON.parse(line) as Start);
    expect(dirname(start?.argv1 ?? '')).toBe(engine.socketDirectory);
    expect(findLeftovers(engine)).toEqual([]);
  });
});

describe('the task program cache: a new host process reuses the program an earlier one compiled', () => {
  let dir: string;
  let cache: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-program-cache-'));
    cache = join(dir, 'cache');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the start-up flow in a host process of its own; says whether it compiled the program or took it from the cache. */
  const host = async (name: string, flowUrl = startupUrl) => (await hostRun(name, flowUrl)).verdict;
  /** The same, with what the host said of the parts it compiled (a flow's program is in two parts: vf, and the flow). */
  const hostRun = async (name: string, flowUrl = startupUrl) => {
    const run = join(dir, name);
    await mkdir(run);
    const out = join(run, 'out.txt');
    const result = await runFixtureHost(flowUrl, { out }, run, {
      VF_TASK_PROGRAM_CACHE: cache,
      VF_LOG_LEVEL: 'debug',
      VF_LOG_FORMAT: 'json',
    });
    expect(result.stdout, result.stderr).toContain('"status":"completed"');
    expect((await lines(out)).map(Number)).toEqual(Array.from({ length: 100 }, (_, value) => value));
    const messages = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; parts?: string[] });
    const compiled = messages.find(({ msg }) => msg === 'task program: compiled');
    const cached = messages.some(({ msg }) => msg === 'task program: taken from the cache');
    expect((compiled !== undefined) !== cached, result.stderr).toBe(true);
    return { verdict: compiled !== undefined ? 'compiled' : 'cached', parts: compiled?.parts };
  };
  const entries = () => readdirSync(cache).filter((name) => name.endsWith('.json'));
  /** The cache entry of the program's part whose file is `name` (`task.cjs`: vf; `flow.cjs`: the flow). */
  const entryOf = (name: string) =>
    join(cache, entries().find((entry) => readFileSync(join(cache, entry), 'utf8').includes(`"${name}","`)) as string);

  it('the second host runs the flow without compiling; a corrupted entry is compiled again, never run', { timeout: 120_000 }, async () => {
    expect(await hostRun('first')).toEqual({ verdict: 'compiled', parts: ['flow', 'vf'] });
    // The program's two parts, vf and the flow: an entry each.
    expect(entries()).toHaveLength(2);
    expect(await host('second')).toBe('cached');
    for (const [index, part] of (['task.cjs', 'flow.cjs'] as const).entries()) {
      const file = entryOf(part);
      const whole = readFileSync(file, 'utf8');
      // Still valid JSON, still a program: only the digest tells.
      writeFileSync(file, whole.replace(`"${part}","`, `"${part}","throw new Error(\\"tampered\\");`));
      expect(readFileSync(file, 'utf8')).not.toBe(whole);
      expect(await hostRun(`third-${index}`)).toEqual({ verdict: 'compiled', parts: [part === 'task.cjs' ? 'vf' : 'flow'] });
      expect(await host(`fourth-${index}`)).toBe('cached');
    }
  });

  it("a flow changed since the last host's run compiles only its own part: its tasks run vf from the code cache left before", {
    timeout: 120_000,
  }, async () => {
    // A copy of the start-up flow beside it (where `@vf/core` resolves), changed between hosts.
    const changing = new URL(`./flows/startup-${process.pid}.tmp.ts`, import.meta.url);
    const source = readFileSync(startupUrl, 'utf8');
    writeFileSync(changing, source);
    try {
      expect(await hostRun('first', changing)).toEqual({ verdict: 'compiled', parts: ['flow', 'vf'] });
      const codeCaches = () => readdirSync(cache).filter((name) => name.endsWith('.v8'));
      expect(codeCaches()).toHaveLength(2);
      const vfCodeCache = (): string => {
        const [larger] = codeCaches().sort((a, b) => statSync(join(cache, b)).size - statSync(join(cache, a)).size);
        return join(cache, larger as string);
      };
      const vfCache = vfCodeCache();
      const left = statSync(vfCache).ino;
      writeFileSync(changing, `${source}\nexport const changed = 1;\n`);
      expect(await hostRun('second', changing)).toEqual({ verdict: 'compiled', parts: ['flow'] });
      // vf's code cache taken, not written again; the changed flow's part has one of its own now.
      expect(vfCodeCache()).toBe(vfCache);
      expect(statSync(vfCache).ino).toBe(left);
      expect(codeCaches()).toHaveLength(3);
    } finally {
      await rm(changing, { force: true });
    }
  });

  it("the next run's tasks start from V8's code cache the first run's left; one corrupted, or writable by others, is replaced", {
    timeout: 120_000,
  }, async () => {
    const codeCaches = () => readdirSync(cache).filter((name) => name.endsWith('.v8'));
    // Each version of the file held by a link of its own, so that its inode is not reused: another inode, another file.
    let pins = 0;
    const pinned = (path: string) => {
      linkSync(path, join(dir, `pin-${++pins}`));
      return statSync(path).ino;
    };
    expect(await host('first')).toBe('compiled');
    // One for each part of the program (vf, and the flow): vf's is the larger.
    expect(codeCaches()).toHaveLength(2);
    for (const name of codeCaches()) expect(statSync(join(cache, name)).mode & 0o777).toBe(0o600);
    const [vf] = codeCaches().sort((a, b) => statSync(join(cache, b)).size - statSync(join(cache, a)).size);
    const file = join(cache, vf as string);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const left = pinned(file);
    // Taken, not written again (a task writes one, whole, renamed into place, only where it found none it could use).
    expect(await host('second')).toBe('cached');
    expect(statSync(file).ino).toBe(left);
    // V8 refuses bytes that are no code cache of its own: the tasks compile, and leave a good one.
    const garbage = join(dir, 'garbage');
    writeFileSync(garbage, randomBytes(statSync(file).size), { mode: 0o600 });
    renameSync(garbage, file);
    const corrupted = pinned(file);
    expect(await host('third')).toBe('cached');
    expect(statSync(file).ino).not.toBe(corrupted);
    expect(codeCaches()).toHaveLength(2);
    // A cache others may write is never read.
    chmodSync(file, 0o620);
    const open = pinned(file);
    expect(await host('fourth')).toBe('cached');
    expect(statSync(file).ino).not.toBe(open);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(cache).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('hosts starting at once each write a whole entry: the next host takes it', { timeout: 120_000 }, async () => {
    const results = await Promise.all([host('a'), host('b'), host('c')]);
    expect(results).toContain('compiled');
    expect(readdirSync(cache).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(entries()).toHaveLength(2);
    expect(await host('after')).toBe('cached');
  });
});
