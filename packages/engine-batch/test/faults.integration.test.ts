import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Flow, TaskFailedError } from '@vf/core';
import { findLeftovers, isProcessAlive } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { joinWithin, lines, replicasParams, SOURCE_NODE_ARGS, waitFor } from './helpers.js';

/** The pids of `pid`'s child processes (Linux /proc). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Whether process `pid` leads its own process group (`/proc/<pid>/stat`: pgrp is the field after the parent's pid). */
function leadsOwnGroup(pid: number): boolean {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(fields[2]) === pid;
  } catch {
    return false;
  }
}

/** CPU time process `pid` has used so far, in ms (`/proc/<pid>/stat`: utime and stime, in clock ticks of 10 ms); 0 once it is gone. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

const faultsUrl = new URL('./flows/faults.ts', import.meta.url);
const livenessUrl = new URL('./flows/liveness.ts', import.meta.url);
const hostScript = fileURLToPath(new URL('./fixtures/host.ts', import.meta.url));
const startingHostScript = fileURLToPath(new URL('./fixtures/startingHost.ts', import.meta.url));

describe('fault suite (batch engine)', () => {
  let dir: string;
  let host: ChildProcess | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-faults-'));
  });
  afterEach(async () => {
    // A test that failed part-way leaves its host running: its tasks go with it, not as orphans
    // still writing into `dir` (its removal then failed with ENOTEMPTY).
    if (host?.pid !== undefined && host.exitCode === null && host.signalCode === null) {
      const tasks = childPids(host.pid);
      host.kill('SIGKILL');
      for (const pid of tasks) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    host = undefined;
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });

  const params = (fault: string) => ({ fault, out: join(dir, 'out.txt'), closeLog: join(dir, 'close.log') });

  /** Starts a host process running the faults flow; resolves once its tasks run. */
  async function startHost(fault: string, options: { detached?: boolean } = {}) {
    const child = spawnHost(fault, options);
    const infoFile = join(dir, 'info.json');
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(() => existsSync(infoFile) && existsSync(params(fault).out), 'the host to run its flow');
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as { pids: number[]; socketDirectory: string };
    return { child, info, exited, stdout: () => stdout };
  }

  /** Starts a host process running the faults flow; `detached`: in a process group of its own, as a shell starts a job. */
  function spawnHost(fault: string, options: { detached?: boolean; env?: Record<string, string> } = {}): ChildProcess {
    const child = spawn(
      process.execPath,
      [...SOURCE_NODE_ARGS, hostScript, faultsUrl.href, JSON.stringify(params(fault)), join(dir, 'info.json')],
      { stdio: ['ignore', 'pipe', 'inherit'], detached: options.detached === true, env: { ...process.env, ...options.env } },
    );
    host = child;
    return child;
  }

  /** Starts a host whose tasks never start (`fixtures/startingHost.ts`): it writes its run directories to `infoFile`, then waits. */
  function spawnStartingHost(infoFile: string): ChildProcess {
    return spawn(process.execPath, [...SOURCE_NODE_ARGS, startingHostScript, faultsUrl.href, JSON.stringify(params('none')), infoFile], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }

  it('SIGKILL of the host: every task notices and exits within 2 s, and removes its socket file', { timeout: 60_000 }, async () => {
    const { child, info } = await startHost('none');
    expect(info.pids.every(isProcessAlive)).toBe(true);
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await waitFor(() => info.pids.every((pid) => !isProcessAlive(pid)), 'the orphaned tasks to exit', 5_000);
    expect(Date.now() - killedAt).toBeLessThan(2_000 + 500);
    await waitFor(() => !existsSync(info.socketDirectory), 'the socket directory to go', 2_000);
  });

  it('SIGKILL of the host while a task computes synchronously (it cannot notice): the task still ends, within seconds', {
    timeout: 60_000,
  }, async () => {
    // The worker spins from its first item on, for longer than the test: only its heartbeat thread can see the host go.
    const params = { items: 1_000_000, intervalMs: 2, busyAt: 0, busyMs: 600_000, out: join(dir, 'out.txt') };
    const infoFile = join(dir, 'info.json');
    const child = spawn(process.execPath, [...SOURCE_NODE_ARGS, hostScript, livenessUrl.href, JSON.stringify(params), infoFile], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    host = child;
    await waitFor(() => existsSync(infoFile), 'the host to run its flow');
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as { pids: number[]; socketDirectory: string };
    const worker = info.pids[1] as number;
    try {
      await waitFor(() => cpuMs(worker) > 300, 'the worker to compute');
      child.kill('SIGKILL');
      await waitFor(() => !isProcessAlive(worker), 'the orphaned worker to end', 15_000);
      await waitFor(() => info.pids.every((pid) => !isProcessAlive(pid)), 'the orphaned tasks to exit', 5_000);
    } finally {
      if (isProcessAlive(worker)) process.kill(worker, 'SIGKILL');
    }
  });

  it('a host that quits (process.exit) once its tasks ended, before joining them, leaves no run directory behind', {
    timeout: 60_000,
  }, async () => {
    // The demo's second Ctrl-C, at its worst: tasks that ended leave their socket files to the host.
    const child = spawnHost('none', { env: { HOST_EXIT_ONCE_TASKS_ENDED: '1' } });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    expect(await exited).toBe(130);
    const info = JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8')) as { pids: number[]; socketDirectory: string | undefined };
    expect(info.socketDirectory).toEqual(expect.any(String));
    // Its tasks, zombies until the host went, are reaped by init.
    await waitFor(() => info.pids.every((pid) => !isProcessAlive(pid)), 'the ended tasks to be reaped', 5_000);
    expect(findLeftovers(info)).toEqual([]);
  });

  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} to the host before any task has started: it still dies of it, and leaves no run directory behind`, {
      timeout: 60_000,
    }, async () => {
      // No task knows the run's directories yet (none has its init): only the host can remove them.
      const infoFile = join(dir, 'info.json');
      const child = spawnStartingHost(infoFile);
      host = child;
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      await waitFor(() => existsSync(infoFile), 'the host to start its tasks');
      const info = JSON.parse(readFileSync(infoFile, 'utf8')) as { socketDirectory: string; sharedMemoryDirectory: string | undefined };
      expect(existsSync(info.socketDirectory)).toBe(true);
      child.kill(signal);
      expect(await exited).toBe(signal);
      expect(findLeftovers({ pids: [], ...info })).toEqual([]);
    });
  }

  it('SIGKILL of the host before any task has started: the next run on this machine removes what it left', {
    timeout: 90_000,
  }, async () => {
    // Nothing catches SIGKILL, and no task knows the run's directories yet: they outlive the host.
    const infoFile = join(dir, 'killed.json');
    const killed = spawnStartingHost(infoFile);
    const killedExit = new Promise<void>((resolve) => killed.once('exit', () => resolve()));
    let left: { socketDirectory: string; sharedMemoryDirectory: string | undefined } | undefined;
    try {
      await waitFor(() => existsSync(infoFile), 'the first host to make its run directories');
      left = JSON.parse(readFileSync(infoFile, 'utf8')) as { socketDirectory: string; sharedMemoryDirectory: string | undefined };
      killed.kill('SIGKILL');
      await killedExit;
      // Not checked here that they are still there: a host of another test file that starts its first
      // run now may sweep them first (on the old code nothing ever did, and the wait below times out).
      // Another host, another flow: once it runs, it sweeps what dead hosts left.
      const { child, info, exited } = await startHost('none');
      const gone = left;
      let failure: unknown;
      try {
        await waitFor(() => findLeftovers({ pids: [], ...gone }).length === 0, "the killed host's directories to be swept", 15_000);
        expect(existsSync(info.socketDirectory)).toBe(true); // its own, of a live host, stays
      } catch (error) {
        failure = error;
      }
      // Stopped cleanly whatever failed: its tasks write into the test's folder until they have closed.
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      if (failure !== undefined) throw failure;
      expect(findLeftovers(info)).toEqual([]);
    } finally {
      killed.kill('SIGKILL');
      // What the sweep did not remove (on a failure) is removed here.
      for (const path of [left?.socketDirectory, left?.sharedMemoryDirectory]) {
        if (path !== undefined) rmSync(path, { recursive: true, force: true });
      }
    }
  });

  it('SIGINT to the host: a clean stop, every close() runs, status stopped', { timeout: 60_000 }, async () => {
    const { child, info, exited, stdout } = await startHost('none');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout())).toEqual({ status: 'stopped' });
    expect((await lines(params('none').closeLog)).sort()).toEqual(['sink', 'ticker']);
    expect(findLeftovers(info)).toEqual([]);
  });

  it('Ctrl-C (SIGINT to the whole process group) while the tasks start: the host stops the flow cleanly', { timeout: 60_000 }, async () => {
    const child = spawnHost('none', { detached: true });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const pid = child.pid as number;
    // The moment the first task process exists, still loading its modules, while the host forks the
    // next ones: SIGINT must kill none of them. A task counts once it leads a process group of its
    // own (the host's esbuild never leaves the host's). Under load the SIGINT often catches a later
    // task between its fork and its setsid; it is then started again (runtime/forkWindow.ts).
    await waitFor(() => childPids(pid).some(leadsOwnGroup), 'the host to start its task processes');
    process.kill(-pid, 'SIGINT');
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ status: 'stopped' });
    expect((await lines(params('none').closeLog)).sort()).toEqual(['sink', 'ticker']);
  });

  it('Ctrl-C (SIGINT to the whole process group) while the flow runs: a clean stop, every close() runs', { timeout: 60_000 }, async () => {
    const { child, info, exited, stdout } = await startHost('none', { detached: true });
    process.kill(-(child.pid as number), 'SIGINT');
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout())).toEqual({ status: 'stopped' });
    expect((await lines(params('none').closeLog)).sort()).toEqual(['sink', 'ticker']);
    expect(findLeftovers(info)).toEqual([]);
  });

  it('a producer that throws fails the flow naming it; the rest closes', { timeout: 60_000 }, async () => {
    const flow = await Flow.load(faultsUrl, params('producerThrows'));
    const engine = new BatchExecutionEngine();
    await flow.run(engine);
    const report = await flow.join();
    expect(report.status).toBe('failed');
    expect(report.error).toBeInstanceOf(TaskFailedError);
    expect(report.error?.nodeName).toBe('ticker');
    expect(String((report.error?.cause as Error | undefined)?.message)).toContain('camera unplugged at item 10');
    expect((await lines(params('producerThrows').out)).map(Number).every((value) => value < 10)).toBe(true);
    expect((await lines(params('producerThrows').closeLog)).sort()).toEqual(['sink', 'ticker']);
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('a consumer that hangs: stop() still ends the flow after stopTimeoutMs, naming the hung node', { timeout: 60_000 }, async () => {
    const flow = await Flow.load(faultsUrl, params('consumerHangs'));
    const engine = new BatchExecutionEngine({ stopTimeoutMs: 1_000, killGraceMs: 500 });
    await flow.run(engine);
    await waitFor(async () => (await lines(params('consumerHangs').out)).length >= 5, 'the sink to hang');
    const stoppedAt = Date.now();
    flow.stop();
    const report = await flow.join();
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('sink');
    expect(String((report.error?.cause as { code?: string } | undefined)?.code)).toBe('STOP_TIMEOUT');
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('a processor stuck in synchronous code: its earlier outputs have left; stop() kills it', { timeout: 60_000 }, async () => {
    const flow = await Flow.load(faultsUrl, params('processorSpins'));
    const engine = new BatchExecutionEngine({ stopTimeoutMs: 1_000, killGraceMs: 500 });
    await flow.run(engine);
    try {
      // Items 0-3 are queued at once; the relay spins on 3 without ever yielding: 0-2 must not wait for it.
      await waitFor(async () => (await lines(params('processorSpins').out)).length >= 3, 'items 0-2 to reach the sink');
    } finally {
      flow.stop(); // also when the wait fails: the spinning task is killed after stopTimeoutMs
    }
    const report = await flow.join();
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('identity');
    expect(String((report.error?.cause as { code?: string } | undefined)?.code)).toBe('STOP_TIMEOUT');
    expect(await lines(params('processorSpins').out)).toEqual(['0', '1', '2']);
    expect(findLeftovers(engine)).toEqual([]);
  });
});

describe('SIGKILL of a replica mid-run', () => {
  const replicasUrl = new URL('./flows/replicas.ts', import.meta.url);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-replicas-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const items = 2_000;
  const expected = Array.from({ length: items }, (_, value) => String(value * 2));

  /** Runs the replicas flow and SIGKILLs `victims` of its worker replicas once `afterLines` items reached the sink. */
  async function runAndKill(options: { restartOnFailure: boolean; victims: number; afterLines?: number }) {
    const params = replicasParams(dir, items);
    const flow = await Flow.load(replicasUrl, params);
    const engine = new BatchExecutionEngine({ queueSize: 4, restartOnFailure: options.restartOnFailure });
    await flow.run(engine);
    await waitFor(async () => (await lines(params.outA)).length >= (options.afterLines ?? 300), 'items to reach the sink');
    const workerPids = (await lines(params.pidFile)).map(Number);
    expect(workerPids).toHaveLength(3);
    const killedAt = Date.now();
    for (const pid of workerPids.slice(0, options.victims)) process.kill(pid, 'SIGKILL');
    const report = await flow.join();
    return { report, engine, killedAt, a: await lines(params.outA), b: await lines(params.outB), workerPids };
  }

  it('with restartOnFailure: its items go to the survivors; 0 lost, 0 duplicated, order kept', { timeout: 60_000 }, async () => {
    const { report, engine, a, b } = await runAndKill({ restartOnFailure: true, victims: 1 });
    expect(report.status).toBe('completed');
    expect(a).toEqual(expected);
    expect(b).toEqual(expected);
    expect(report.lostTasks).toEqual([{ node: 'worker', taskIndex: expect.any(Number), cause: expect.stringContaining('SIGKILL') }]);
    expect(report.format()).toContain(`lost worker[${report.lostTasks[0]?.taskIndex}]`);
    expect(report.nodes.find((node) => node.name === 'sinkA')?.received).toBe(items);
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('with restartOnFailure: two of three replicas lost, the last one finishes the work', { timeout: 60_000 }, async () => {
    const { report, engine, a, b } = await runAndKill({ restartOnFailure: true, victims: 2, afterLines: 100 });
    expect(report.status).toBe('completed');
    expect(a).toEqual(expected);
    expect(b).toEqual(expected);
    expect(report.lostTasks).toHaveLength(2);
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('with restartOnFailure: every replica lost fails the flow, naming the node', { timeout: 60_000 }, async () => {
    const { report, engine } = await runAndKill({ restartOnFailure: true, victims: 3 });
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('worker');
    expect(report.error?.message).toContain('SIGKILL');
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('without restartOnFailure: the flow fails fast, naming the replica', { timeout: 60_000 }, async () => {
    const { report, engine, killedAt } = await runAndKill({ restartOnFailure: false, victims: 1 });
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    expect(report.status).toBe('failed');
    expect(report.error).toBeInstanceOf(TaskFailedError);
    expect(report.error?.nodeName).toBe('worker');
    expect(report.error?.message).toContain('SIGKILL');
    expect(report.lostTasks).toEqual([]);
    expect(findLeftovers(engine)).toEqual([]);
  });

  describe('SIGKILL of a replica in every topology of replicated nodes', () => {
    const topologyUrl = new URL('./flows/topologyFaults.ts', import.meta.url);
    const count = 1_500;
    const origins = Array.from({ length: count }, (_, value) => String(value));
    const cases = [
      { shape: 'chain', victim: 'second' },
      { shape: 'chain', victim: 'first' },
      { shape: 'replicatedJoin', victim: 'unpair' },
      { shape: 'joinThenReplicas', victim: 'after' },
      { shape: 'fanOut', victim: 'double' },
    ] as const;

    /** Runs the shape and SIGKILLs one replica of `victim` once 200 items reached the sink. */
    async function killOne(shape: string, victim: string, restartOnFailure: boolean) {
      const params = { shape, items: count, pidFile: join(dir, 'pids'), out: join(dir, 'out.txt') };
      const flow = await Flow.load(topologyUrl, params);
      const engine = new BatchExecutionEngine({ queueSize: 4, restartOnFailure });
      await flow.run(engine);
      await waitFor(async () => (await lines(params.out)).length >= 200, 'items to reach the sink');
      const pid = (await lines(params.pidFile)).find((line) => line.startsWith(`${victim} `))?.split(' ')[1];
      expect(pid).toBeDefined();
      const killedAt = Date.now();
      process.kill(Number(pid), 'SIGKILL');
      // Within the test's own timeout, so that a hang reports where the flow stands.
      const report = await joinWithin(flow, 60_000);
      return { report, engine, killedAt, out: await lines(params.out) };
    }

    for (const { shape, victim } of cases) {
      it(`${shape}, ${victim} killed, restartOnFailure: 0 lost, 0 duplicated, in order`, { timeout: 90_000 }, async () => {
        const { report, engine, out } = await killOne(shape, victim, true);
        expect(report.error).toBeUndefined();
        expect(report.status).toBe('completed');
        expect(out).toEqual(origins);
        expect(report.lostTasks).toEqual([{ node: victim, taskIndex: expect.any(Number), cause: expect.stringContaining('SIGKILL') }]);
        expect(findLeftovers(engine)).toEqual([]);
      });
    }

    for (const { shape, victim } of cases.filter((entry, index) => cases.findIndex((other) => other.shape === entry.shape) === index)) {
      it(`${shape}, ${victim} killed, no restartOnFailure: fails fast naming the replica`, { timeout: 90_000 }, async () => {
        const { report, engine, killedAt, out } = await killOne(shape, victim, false);
        expect(Date.now() - killedAt).toBeLessThan(5_000);
        expect(report.status).toBe('failed');
        expect(report.error).toBeInstanceOf(TaskFailedError);
        expect(report.error?.nodeName).toBe(victim);
        expect(report.error?.message).toContain('SIGKILL');
        expect(out).toEqual(origins.slice(0, out.length));
        expect(findLeftovers(engine)).toEqual([]);
      });
    }
  });
});
