// Liveness of task processes (issue 13): a task that stops answering (SIGSTOP, frozen, its machine
// gone) is noticed within `livenessTimeoutMs`, killed, and treated as dead; a task merely busy in a
// long synchronous process() is not. Also: a killed task's last counters stay in the report.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { type Spawner, stdioTaskProcess, taskNodeArguments } from '@vf/core/engine';
import { findLeftovers, isProcessAlive } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { joinWithin, lines, replicasParams, waitFor } from './helpers.js';

const livenessUrl = new URL('./flows/liveness.ts', import.meta.url);
const replicasUrl = new URL('./flows/replicas.ts', import.meta.url);

/** Small, so that the tests are quick; the default is 10 s. */
const LIVENESS_MS = 1_500;
const KILL_GRACE_MS = 500;
/**
 * The longest a frozen task may go unnoticed and the flow take to end: the liveness timeout, one
 * heartbeat period (a fifth of it) for the check, the kill grace of the other tasks, and slack for a
 * busy machine.
 */
const BOUND_MS = LIVENESS_MS * 1.2 + KILL_GRACE_MS + 2_500;

/** A launcher-like spawner that runs tasks here, talking JSON lines over stdio as ssh and srun tasks do. */
const localStdioSpawner: Spawner = {
  spawn: (request) =>
    stdioTaskProcess(
      spawn(process.execPath, taskNodeArguments(request), {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, ...request.env, VF_TASK: request.label },
      }),
    ),
};

/** The pid of the (first) task of `node`. */
function pidOf(engine: BatchExecutionEngine, node: string): number {
  const task = engine.taskProgress().find((progress) => progress.nodeName === node);
  const pid = task === undefined ? undefined : engine.pids[task.taskId];
  if (pid === undefined) throw new Error(`no task of node ${node}`);
  return pid;
}

/** Resolves with the report, or rejects after `ms` (a join that never resolves is the bug under test). */
/** Resumes and kills `pid` if it still exists: a failed test must not leave a stopped process behind. */
function release(pid: number | undefined): void {
  if (pid === undefined || !isProcessAlive(pid)) return;
  try {
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

describe('liveness (batch engine)', () => {
  let dir: string;
  let flow: Flow | undefined;
  let stopped: number | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-liveness-'));
  });
  afterEach(async () => {
    release(stopped);
    stopped = undefined;
    if (flow !== undefined) {
      flow.stop();
      await joinWithin(flow, 20_000).catch(() => undefined);
      flow = undefined;
    }
    await rm(dir, { recursive: true, force: true });
  });

  const endless = () => ({ items: 1_000_000, intervalMs: 2, out: join(dir, 'out.txt') });

  for (const [node, kind] of [
    ['counter', 'producer'],
    ['worker', 'processor'],
    ['sink', 'consumer'],
  ] as const) {
    it(`SIGSTOP of a ${kind}: the flow fails within the liveness bound naming it (TASK_UNRESPONSIVE); nothing left`, {
      timeout: 30_000,
    }, async () => {
      const params = endless();
      flow = await Flow.load(livenessUrl, params);
      const engine = new BatchExecutionEngine({ livenessTimeoutMs: LIVENESS_MS, killGraceMs: KILL_GRACE_MS });
      await flow.run(engine);
      await waitFor(async () => (await lines(params.out)).length >= 20, 'items to reach the sink');
      stopped = pidOf(engine, node);
      process.kill(stopped, 'SIGSTOP');
      const stoppedAt = Date.now();
      const report = await joinWithin(flow, BOUND_MS + 10_000);
      const failMs = Date.now() - stoppedAt;
      console.info(`liveness: a SIGSTOPped ${kind} failed the flow in ${failMs} ms (livenessTimeoutMs ${LIVENESS_MS})`);
      expect(failMs).toBeLessThan(BOUND_MS);
      expect(report.status).toBe('failed');
      expect(report.error?.nodeName).toBe(node);
      const cause = report.error?.cause as { code?: string; message?: string } | undefined;
      expect(cause?.code).toBe('TASK_UNRESPONSIVE');
      expect(cause?.message).toContain(`${node}[0]`);
      expect(findLeftovers(engine)).toEqual([]);
    });
  }

  it('SIGSTOP of a task started over stdio (as ssh/srun tasks are): noticed and killed just the same', { timeout: 30_000 }, async () => {
    const params = endless();
    flow = await Flow.load(livenessUrl, params);
    const engine = new BatchExecutionEngine({ livenessTimeoutMs: LIVENESS_MS, killGraceMs: KILL_GRACE_MS, spawner: localStdioSpawner });
    await flow.run(engine);
    await waitFor(async () => (await lines(params.out)).length >= 20, 'items to reach the sink');
    stopped = pidOf(engine, 'worker');
    process.kill(stopped, 'SIGSTOP');
    const stoppedAt = Date.now();
    const report = await joinWithin(flow, BOUND_MS + 10_000);
    expect(Date.now() - stoppedAt).toBeLessThan(BOUND_MS);
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('worker');
    expect((report.error?.cause as { code?: string } | undefined)?.code).toBe('TASK_UNRESPONSIVE');
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('SIGSTOP of a replica under restartOnFailure: its items go to the survivors, nothing lost or duplicated', {
    timeout: 30_000,
  }, async () => {
    const items = 2_000;
    const params = replicasParams(dir, items);
    flow = await Flow.load(replicasUrl, params);
    const engine = new BatchExecutionEngine({
      queueSize: 4,
      restartOnFailure: true,
      livenessTimeoutMs: LIVENESS_MS,
      killGraceMs: KILL_GRACE_MS,
    });
    await flow.run(engine);
    await waitFor(async () => (await lines(params.outA)).length >= 300, 'items to reach the sink');
    const workerPids = (await lines(params.pidFile)).map(Number);
    stopped = workerPids[1];
    process.kill(stopped as number, 'SIGSTOP');
    const report = await joinWithin(flow, BOUND_MS + 20_000);
    const expected = Array.from({ length: items }, (_, value) => String(value * 2));
    expect(report.status).toBe('completed');
    expect(await lines(params.outA)).toEqual(expected);
    expect(await lines(params.outB)).toEqual(expected);
    expect(report.lostTasks).toEqual([{ node: 'worker', taskIndex: expect.any(Number), cause: expect.stringMatching(/unresponsive/i) }]);
    expect(isProcessAlive(stopped as number)).toBe(false);
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('a node busy in a synchronous process() for twice the liveness timeout is not killed', { timeout: 30_000 }, async () => {
    const params = { items: 30, intervalMs: 0, busyAt: 5, busyMs: 2 * LIVENESS_MS, out: join(dir, 'out.txt') };
    flow = await Flow.load(livenessUrl, params);
    const engine = new BatchExecutionEngine({ livenessTimeoutMs: LIVENESS_MS });
    await flow.run(engine);
    const report = await joinWithin(flow, 20_000);
    expect(report.status).toBe('completed');
    expect(await lines(params.out)).toEqual(Array.from({ length: 30 }, (_, value) => String(value)));
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('an event loop stuck outside node code (a callback that never returns) is unresponsive too', { timeout: 30_000 }, async () => {
    const params = { ...endless(), stuckAt: 20 };
    flow = await Flow.load(livenessUrl, params);
    const engine = new BatchExecutionEngine({ livenessTimeoutMs: LIVENESS_MS, killGraceMs: KILL_GRACE_MS });
    await flow.run(engine);
    const report = await joinWithin(flow, 20_000);
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('worker');
    const cause = report.error?.cause as { code?: string; message?: string } | undefined;
    expect(cause?.code).toBe('TASK_UNRESPONSIVE');
    expect(cause?.message).toMatch(/stuck outside node code/);
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('livenessTimeoutMs is checked: a number of ms from 100 to 2^31 - 1', () => {
    for (const livenessTimeoutMs of [0, 99, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '5000' as unknown as number]) {
      expect(() => new BatchExecutionEngine({ livenessTimeoutMs })).toThrow(
        expect.objectContaining({
          code: 'INVALID_OPTION',
          message: expect.stringMatching(/livenessTimeoutMs must be a number of ms from 100/),
        }),
      );
    }
    expect(() => new BatchExecutionEngine({ livenessTimeoutMs: 100 })).not.toThrow();
  });

  it('the report keeps the counters a SIGKILLed producer sent before it died', { timeout: 30_000 }, async () => {
    const params = endless();
    flow = await Flow.load(livenessUrl, params);
    const engine = new BatchExecutionEngine({ killGraceMs: KILL_GRACE_MS });
    await flow.run(engine);
    const emitted = () => engine.taskProgress().find((task) => task.nodeName === 'counter')?.stats.emitted ?? 0;
    await waitFor(() => emitted() >= 100, 'the producer to report 100 items emitted');
    const seen = emitted();
    process.kill(pidOf(engine, 'counter'), 'SIGKILL');
    const report = await joinWithin(flow, 20_000);
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('counter');
    expect(report.nodes.find((node) => node.name === 'counter')?.emitted).toBeGreaterThanOrEqual(seen);
    expect(findLeftovers(engine)).toEqual([]);
  });
});
