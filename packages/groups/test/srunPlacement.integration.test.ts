// A node placed with `srunLauncher` on the one-node SLURM test cluster (see slurmCluster.ts): the
// task runs as a job step inside an allocation made with `salloc --no-shell`, its control channel
// is the step's stdin/stdout, and its data path is CURVE tcp to the tasks that run here.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { srunLauncher } from '@vf/core/engine';
import { findLeftovers, isProcessAlive } from '@vf/core/testing';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../src/runCommand.js';
import { type SlurmCluster, startSlurmCluster } from './slurmCluster.js';

const squaresUrl = new URL('./fixtures/flows/squares.ts', import.meta.url);

/** A non-loopback IPv4 address of this machine: what the "compute node" (this machine too) reaches it by. */
function externalAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return undefined;
}

let cluster: SlurmCluster | undefined;
let skipReason: string | undefined;
let jobId: string | undefined;
const address = externalAddress();

beforeAll(async () => {
  if (address === undefined) {
    skipReason = 'no non-loopback IPv4 address on this machine';
    return;
  }
  const started = await startSlurmCluster();
  if (!started.ok) {
    skipReason = started.reason;
    process.stderr.write(`\n!!! SKIPPING the srun placement test: ${started.reason}\n\n`);
    return;
  }
  cluster = started.cluster;
  const salloc = await runCommand('salloc', ['--no-shell', '--nodes=1', '--job-name=vf-srun-placement'], {
    env: cluster.env,
    timeoutMs: 30_000,
  });
  jobId = /job allocation (\d+)/.exec(salloc.stderr + salloc.stdout)?.[1];
  if (jobId === undefined) throw new Error(`salloc failed: ${salloc.stderr}`);
}, 420_000);

afterAll(async () => {
  if (cluster === undefined) return;
  const { pids } = cluster;
  await cluster.stop();
  expect(pids.filter(isProcessAlive), 'SLURM daemons left running').toEqual([]);
}, 60_000);

describe('srunLauncher: a node as a SLURM job step', () => {
  it('runs the middle node inside the allocation and delivers every item in order', { timeout: 120_000 }, async (context) => {
    if (cluster === undefined || jobId === undefined) return context.skip(skipReason);
    const dir = mkdtempSync(join(tmpdir(), 'vf-srun-'));
    try {
      const out = join(dir, 'out.txt');
      const end = 199;
      const flow = await Flow.load(squaresUrl, { end, out });
      const engine = new BatchExecutionEngine({
        host: address,
        placement: { square: srunLauncher({ address: address as string, jobId, env: cluster.env, srunOptions: ['--overlap'] }) },
      });
      const startedAt = performance.now();
      await flow.run(engine);
      const { status, error } = await flow.join();
      const seconds = (performance.now() - startedAt) / 1000;
      expect({ status, error }).toEqual({ status: 'completed', error: undefined });
      const lines = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
      expect(lines.map(Number)).toEqual(Array.from({ length: end + 1 }, (_, i) => i * i));
      expect(engine.endpoints?.every((endpoint) => endpoint.startsWith(`tcp://${address}:`))).toBe(true);
      expect(findLeftovers(engine)).toEqual([]);
      // The step ran in our allocation and is over.
      expect(await stepsLeft(jobId, cluster.env)).toBe('');
      process.stderr.write(`[groups] srun placement: ${end + 1} items through a job step in ${seconds.toFixed(2)} s\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stop() of a step spinning in synchronous code: srun cancels the step, its process is gone', { timeout: 120_000 }, async (context) => {
    if (cluster === undefined || jobId === undefined) return context.skip(skipReason);
    const dir = mkdtempSync(join(tmpdir(), 'vf-srun-'));
    try {
      const pidFile = join(dir, 'square.pid');
      const flow = await Flow.load(squaresUrl, { end: 1_000, out: join(dir, 'out.txt'), spin: { at: 3, pidFile } });
      const engine = new BatchExecutionEngine({
        host: address,
        placement: { square: srunLauncher({ address: address as string, jobId, env: cluster.env, srunOptions: ['--overlap'] }) },
        stopTimeoutMs: 1_000,
        killGraceMs: 500,
      });
      await flow.run(engine);
      const deadline = Date.now() + 30_000;
      while (!existsSync(pidFile) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const squarePid = Number(readFileSync(pidFile, 'utf8'));
      const stoppedAt = Date.now();
      flow.stop();
      const report = await flow.join();
      const joinMs = Date.now() - stoppedAt;
      expect(report.status).toBe('failed');
      expect(report.error?.nodeName).toBe('square');
      expect(findLeftovers(engine)).toEqual([]);
      // srun turns its SIGTERM into a cancel of the step (SIGKILL to the task): the task is gone with srun.
      expect(isProcessAlive(squarePid)).toBe(false);
      expect(await stepsLeft(jobId, cluster.env)).toBe('');
      process.stderr.write(`[groups] srun: stop() of a spinning step ended the flow in ${joinMs} ms (stopTimeoutMs 1000)\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The job's steps still listed by `squeue`, once none is left or after 20 s. slurmctld forgets an
 * ended step a few seconds after its process is gone, so a single look could still see it.
 */
async function stepsLeft(jobId: string, env: Readonly<Record<string, string>>): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const steps = (await runCommand('squeue', ['-h', '-s', '-j', jobId], { env, timeoutMs: 10_000 })).stdout.trim();
    if (steps === '' || Date.now() > deadline) return steps;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
