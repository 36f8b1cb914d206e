import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Flow } from '@vf/core';
import { RUN_OWNER_FILE } from '@vf/core/engine';
import { findLeftovers, isProcessAlive } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { expectedSha, FRAME_BYTES } from './flows/sharedFrames.js';
import { joinWithin, lines, SOURCE_NODE_ARGS, statsByNode, waitFor } from './helpers.js';

const flowUrl = new URL('./flows/sharedFrames.ts', import.meta.url);
const hostScript = fileURLToPath(new URL('./fixtures/host.ts', import.meta.url));

interface Received {
  index: number;
  type: string;
  bytes: number;
  sha: string;
  planeShares: boolean;
}

const received = async (file: string) => (await lines(file)).map((line) => JSON.parse(line) as Received);

/** What a receiver must have got: every frame once, in order, byte-identical, its second view still sharing the buffer. */
const expected = (count: number, mutated = false): Received[] =>
  Array.from({ length: count }, (_, index) => ({
    index,
    type: 'Uint8Array',
    bytes: FRAME_BYTES,
    sha: expectedSha(index, mutated),
    planeShares: true,
  }));

/** The senders' shared-memory statistics summed per node: one line per task that sent through shared memory, written when it closed (`VF_SHARED_STATS`). */
const senderStatsByNode = (file: string) => statsByNode(file, ['copied', 'forwarded', 'linkedAgain', 'inline']);

/** Segment files in a shared-memory directory (none once it is gone): all but its owner file. */
const segments = (directory: string | undefined) =>
  directory !== undefined && existsSync(directory) ? readdirSync(directory).filter((name) => name !== RUN_OWNER_FILE) : [];

describe.runIf(process.platform === 'linux')('frames through shared memory (batch engine)', () => {
  let dir: string;
  let host: ChildProcess | undefined;
  /** Where the tasks of the test's flow write their senders' statistics (they inherit the variable). */
  let statsFile: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-shm-'));
    statsFile = join(dir, 'stats.jsonl');
    process.env.VF_SHARED_STATS = statsFile;
  });
  afterEach(async () => {
    delete process.env.VF_SHARED_STATS;
    host?.kill('SIGKILL');
    host = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  for (const nbTasks of [1, 2]) {
    it(`a chain producer → identity (nbTasks ${nbTasks}) → consumer: the identity forwards every frame as a link, copying none; byte-identical`, {
      timeout: 60_000,
    }, async () => {
      const out = join(dir, `chain-${nbTasks}`);
      const count = 12;
      const flow = await Flow.load(flowUrl, { mode: 'chain', count, out, nbTasks });
      const engine = new BatchExecutionEngine({ queueSize: 2 });
      await flow.run(engine);
      expect((await flow.join()).status).toBe('completed');
      expect(await received(`${out}.a`)).toEqual(expected(count));
      const stats = await senderStatsByNode(statsFile);
      expect(stats.frames).toMatchObject({ copied: count, forwarded: 0, inline: 0 });
      expect(stats.forward).toMatchObject({ copied: 0, forwarded: count, inline: 0 });
      expect(existsSync(`${out}.changed`)).toBe(false);
      expect(findLeftovers(engine)).toEqual([]);
    });
  }

  it('without the native helper (VF_SHARED_MAP=0 in every task) the identity copies each frame instead; byte-identical, nothing left', {
    timeout: 60_000,
  }, async () => {
    const out = join(dir, 'unmapped');
    const count = 6;
    process.env.VF_SHARED_MAP = '0';
    try {
      const flow = await Flow.load(flowUrl, { mode: 'chain', count, out, nbTasks: 1 });
      const engine = new BatchExecutionEngine({ queueSize: 2 });
      await flow.run(engine);
      expect((await flow.join()).status).toBe('completed');
      expect(await received(`${out}.a`)).toEqual(expected(count));
      expect((await senderStatsByNode(statsFile)).forward).toMatchObject({ copied: count, forwarded: 0, inline: 0 });
      expect(findLeftovers(engine)).toEqual([]);
    } finally {
      delete process.env.VF_SHARED_MAP;
    }
  });

  it('an identity with two children forwards one frame to both as two links; each receives it intact', { timeout: 60_000 }, async () => {
    const out = join(dir, 'two');
    const count = 6;
    const flow = await Flow.load(flowUrl, { mode: 'chain', count, out, nbTasks: 1, twoChildren: true });
    const engine = new BatchExecutionEngine({ queueSize: 2 });
    await flow.run(engine);
    expect((await flow.join()).status).toBe('completed');
    expect(await received(`${out}.a`)).toEqual(expected(count));
    expect(await received(`${out}.b`)).toEqual(expected(count));
    expect((await senderStatsByNode(statsFile)).forward).toMatchObject({ copied: 0, forwarded: 2 * count, inline: 0 });
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('fan-out: one child mutates its frame in place; its sibling and the sender still see the original bytes', {
    timeout: 60_000,
  }, async () => {
    const out = join(dir, 'fan');
    const flow = await Flow.load(flowUrl, { mode: 'fanOut', count: 5, out });
    const engine = new BatchExecutionEngine({ queueSize: 2 });
    await flow.run(engine);
    expect(engine.sharedMemoryDirectory).toMatch(/^\/dev\/shm\/vf-[0-9a-f]{32}$/);
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(await received(`${out}.a`)).toEqual(expected(5, true));
    expect(await received(`${out}.b`)).toEqual(expected(5));
    expect(existsSync(`${out}.changed`)).toBe(false);
    // The mutated frame is copied (its written pages are the task's own); the untouched one forwarded.
    const stats = await senderStatsByNode(statsFile);
    expect(stats.mutator).toMatchObject({ copied: 5, forwarded: 0 });
    expect(stats.untouched).toMatchObject({ copied: 0, forwarded: 5 });
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('segments are 0600 files in the 0700 run directory; sharedMemory: false sends inline and creates none', {
    timeout: 60_000,
  }, async () => {
    const out = join(dir, 'slow');
    const flow = await Flow.load(flowUrl, { mode: 'replicas', count: 8, out, workMs: 100, nbTasks: 1 });
    const engine = new BatchExecutionEngine({ queueSize: 2 });
    await flow.run(engine);
    const directory = engine.sharedMemoryDirectory as string;
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    // The worker is slow: the producer's frames wait in shared memory (bounded by credits).
    let modes: number[] = [];
    await waitFor(() => {
      modes = segments(directory).flatMap((name) => {
        try {
          return [statSync(join(directory, name)).mode & 0o777];
        } catch {
          return []; // read and removed meanwhile
        }
      });
      return modes.length > 0;
    }, 'a segment in the shared-memory directory');
    expect(new Set(modes)).toEqual(new Set([0o600]));
    expect((await flow.join()).status).toBe('completed');
    expect(await received(`${out}.a`)).toEqual(expected(8));
    expect(findLeftovers(engine)).toEqual([]);

    const inlineOut = join(dir, 'inline');
    const inline = await Flow.load(flowUrl, { mode: 'replicas', count: 3, out: inlineOut, workMs: 1, nbTasks: 2 });
    const inlineEngine = new BatchExecutionEngine({ sharedMemory: false });
    await inline.run(inlineEngine);
    expect(inlineEngine.sharedMemoryDirectory).toBeUndefined();
    expect((await inline.join()).status).toBe('completed');
    expect(await received(`${inlineOut}.a`)).toEqual(expected(3));
  });

  it('tcp links keep frames inline: no shared-memory directory', { timeout: 60_000 }, async () => {
    const out = join(dir, 'tcp');
    const flow = await Flow.load(flowUrl, { mode: 'replicas', count: 3, out, workMs: 1, nbTasks: 2 });
    const engine = new BatchExecutionEngine({ transport: 'tcp' });
    await flow.run(engine);
    expect(engine.sharedMemoryDirectory).toBeUndefined();
    expect((await flow.join()).status).toBe('completed');
    expect(await received(`${out}.a`)).toEqual(expected(3));
  });

  for (const restartOnFailure of [true, false]) {
    it(`a replica SIGKILLed holding frames (restartOnFailure: ${restartOnFailure}): ${restartOnFailure ? 'every frame arrives once, intact' : 'the flow fails'}; no segment left`, {
      timeout: 90_000,
    }, async () => {
      const out = join(dir, `kill-${restartOnFailure}`);
      const pidFile = join(dir, `pids-${restartOnFailure}`);
      const count = 24;
      const flow = await Flow.load(flowUrl, { mode: 'replicas', count, out, pidFile, workMs: 60, nbTasks: 2 });
      const engine = new BatchExecutionEngine({ queueSize: 3, restartOnFailure });
      await flow.run(engine);
      await waitFor(async () => (await lines(`${out}.a`)).length >= 2 && (await lines(pidFile)).length === 2, 'the replicas to work');
      const victim = Number((await lines(pidFile))[0]);
      process.kill(victim, 'SIGKILL');
      const report = await flow.join();
      expect(isProcessAlive(victim)).toBe(false);
      if (restartOnFailure) {
        expect(report.status).toBe('completed');
        expect(await received(`${out}.a`)).toEqual(expected(count));
        // The survivor forwarded what it was given, re-sent work included (the victim wrote no line).
        expect((await senderStatsByNode(statsFile)).worker).toMatchObject({ copied: 0, inline: 0 });
      } else {
        expect(report.status).toBe('failed');
      }
      expect(findLeftovers(engine)).toEqual([]);
    });
  }

  it('a replica SIGKILLed under restartOnFailure: its pool of segments, its bell and its rings go at once, not when the run ends', {
    timeout: 90_000,
  }, async () => {
    const out = join(dir, 'lostPool');
    const pidFile = join(dir, 'pids-lostPool');
    // The workers copy their frames: each sends through a pool of its own, as the producer does.
    const flow = await Flow.load(flowUrl, { mode: 'replicas', count: 10_000, out, pidFile, workMs: 20, nbTasks: 2, copy: true });
    const engine = new BatchExecutionEngine({ queueSize: 3, restartOnFailure: true });
    await flow.run(engine);
    const directory = engine.sharedMemoryDirectory;
    expect(directory).toBeDefined();
    // The senders that have a pool: the first part of its segments' names is the sender's own.
    const poolOwners = () =>
      new Set(
        segments(directory)
          .filter((name) => /-p[0-9]+$/.test(name))
          .map((name) => name.split('-')[0]),
      );
    // Whatever fails, the flow is stopped and joined: the test leaves no task and no segment behind.
    let failure: unknown;
    try {
      await waitFor(
        async () => (await lines(pidFile)).length === 2 && poolOwners().size === 3,
        'the producer and both workers to send frames',
      );
      // Each pool's name holds its sender's task id: the victim's is the one whose pool goes.
      const poolTasks = () => new Set(segments(directory).flatMap((name) => /-t([0-9]+)-p[0-9]+$/.exec(name)?.[1] ?? []));
      const before = poolTasks();
      const victim = Number((await lines(pidFile))[0]);
      process.kill(victim, 'SIGKILL');
      await waitFor(() => !isProcessAlive(victim), 'the victim to die', 5_000);
      // The run goes on with the survivor; the victim's pool (up to 512 MiB of memory) must not wait for its end.
      await waitFor(() => poolOwners().size === 2, "the lost replica's pool to be removed", 10_000);
      const victimTask = [...before].find((taskId) => !poolTasks().has(taskId));
      expect(victimTask).toBeDefined();
      // Nor its bell and the rings it wrote (they were there: it had inputs, and sent on this host).
      expect(segments(directory).filter((name) => name === `bell-${victimTask}` || name.startsWith(`ring-${victimTask}-`))).toEqual([]);
      expect(flow.liveStats()?.nodes.find((node) => node.name === 'a')?.processed).toBeLessThan(10_000);
    } catch (error) {
      failure = error;
    }
    flow.stop();
    const report = await joinWithin(flow, 30_000);
    if (failure !== undefined) throw failure;
    expect(report.status).toBe('stopped');
    const got = await received(`${out}.a`);
    expect(got).toEqual(expected(got.length));
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('stop() mid-run: the flow ends stopped and no segment is left', { timeout: 60_000 }, async () => {
    const out = join(dir, 'stop');
    const flow = await Flow.load(flowUrl, { mode: 'replicas', count: 1000, out, workMs: 30, nbTasks: 2 });
    const engine = new BatchExecutionEngine({ queueSize: 4 });
    await flow.run(engine);
    await waitFor(async () => (await lines(`${out}.a`)).length >= 2, 'frames to arrive');
    flow.stop();
    const report = await flow.join();
    expect(report.status).toBe('stopped');
    const got = await received(`${out}.a`);
    expect(got).toEqual(expected(got.length));
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('SIGKILL of the host: the orphaned tasks remove the shared memory and the run directory', { timeout: 60_000 }, async () => {
    const out = join(dir, 'orphans');
    const infoFile = join(dir, 'info.json');
    const params = { mode: 'replicas', count: 1000, out, workMs: 50, nbTasks: 2 };
    const child = spawn(process.execPath, [...SOURCE_NODE_ARGS, hostScript, flowUrl.href, JSON.stringify(params), infoFile], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    host = child;
    await waitFor(async () => existsSync(infoFile) && (await lines(`${out}.a`)).length >= 2, 'the host to run its flow');
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as { pids: number[]; socketDirectory: string; sharedMemoryDirectory: string };
    expect(existsSync(info.sharedMemoryDirectory)).toBe(true);
    child.kill('SIGKILL');
    await waitFor(() => info.pids.every((pid) => !isProcessAlive(pid)), 'the orphaned tasks to exit', 10_000);
    await waitFor(() => !existsSync(info.sharedMemoryDirectory), 'the shared-memory directory to go', 5_000);
    await waitFor(() => !existsSync(info.socketDirectory), 'the run directory to go', 5_000);
  });
});
