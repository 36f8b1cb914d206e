// Integration tests against a real one-node SLURM (see slurmCluster.ts): submit groups, watch
// `status` map the queue onto groups and operations, and see the operations complete.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '@vf/core/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { ACTIVE_STATES, type FlowProject, type GroupStatus, GroupsError, SlurmScheduler } from '../src/index.js';
import { runCommand } from '../src/runCommand.js';
import { createProject } from './fixtures/project.js';
import { collector, tsxExecutable } from './helpers.js';
import { type SlurmCluster, startSlurmCluster } from './slurmCluster.js';

let cluster: SlurmCluster | undefined;
let skipReason: string | undefined;

beforeAll(async () => {
  const started = await startSlurmCluster();
  if (started.ok) {
    cluster = started.cluster;
    process.stderr.write(
      `[groups] SLURM ready: install ${started.cluster.installSeconds.toFixed(1)} s, daemons to idle ${started.cluster.startSeconds.toFixed(1)} s\n`,
    );
  } else {
    skipReason = started.reason;
    const line = '!'.repeat(100);
    process.stderr.write(`\n${line}\n!!! SKIPPING the SLURM integration tests: ${started.reason}\n${line}\n\n`);
  }
}, 420_000);

afterAll(async () => {
  if (cluster === undefined) return;
  const { pids } = cluster;
  await cluster.stop();
  const alive = pids.filter(isProcessAlive);
  expect(alive, 'SLURM daemons left running').toEqual([]);
}, 60_000);

let root: string;
let project: FlowProject;
let stdout: ReturnType<typeof collector>;

function requireSlurm(context: TestContext): SlurmCluster {
  if (cluster === undefined) context.skip(`SLURM unavailable: ${skipReason}`);
  return cluster!;
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vf-groups-slurm-'));
  stdout = collector();
  if (cluster === undefined) return;
  // Cluster jobs inherit sbatch's environment: the cluster's config and the project's root.
  const scheduler = new SlurmScheduler({ env: { ...cluster.env, VF_PROJECT_ROOT: root }, timeoutMs: 20_000 });
  project = createProject(root, { executable: tsxExecutable, scheduler, stdout, stderr: collector() });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** This project's cluster jobs still queued, held or running (the scheduler also lists finished ones). */
async function ourQueue(): Promise<string[]> {
  const scheduler = await project.scheduler();
  return (await scheduler!.queue())
    .filter((job) => job.name.startsWith(`${project.clusterPrefix}.`) && ACTIVE_STATES.includes(job.state))
    .map((job) => `${job.id}:${job.state}`);
}

/** Polls until `done()` holds; fails with `what` (and the cluster job logs) after `timeoutMs`. */
async function waitUntil(what: string, timeoutMs: number, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) {
      const logs = join(root, '.vf', 'logs');
      const text = existsSync(logs) ? readdirSync(logs).map((name) => `--- ${name}\n${readFileSync(join(logs, name), 'utf8')}`) : [];
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; queue: ${(await ourQueue()).join(', ')}\n${text.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const states = (groups: readonly GroupStatus[], name: string) => groups.find((group) => group.name === name)?.states ?? {};
const active = (counts: Partial<Record<string, number>>) => (counts.queued ?? 0) + (counts.running ?? 0);

describe('FlowGroups on a real SLURM', () => {
  it('submits a group, shows it queued or running on the group and its operations, then sees them complete', {
    timeout: 120_000,
  }, async (context) => {
    requireSlurm(context);
    const jobs = [1, 2].map((n) => project.openJob({ n }).init());
    const submissions = await project.submit({ operations: ['ex'] });
    expect(submissions.map((submission) => submission.name).sort()).toEqual(
      jobs.map((job) => `${project.clusterPrefix}.${job.id}.ex`).sort(),
    );
    expect(submissions.every((submission) => /^\d+$/.test(submission.clusterId ?? ''))).toBe(true);

    const report = await project.status();
    expect(report.scheduler).toBe('slurm');
    expect(report.schedulerError).toBeUndefined();
    // The group's cluster jobs, and its members (op1, op2) show the group's state.
    for (const name of ['ex', 'op1', 'op2']) expect(active(states(report.groups, name)), name).toBe(2);
    expect(active(states(report.groups, 'slow'))).toBe(0);
    const detail = report.jobs[0]!.groups.op1!;
    expect(['queued', 'running']).toContain(detail.state);
    expect(submissions.map((submission) => submission.clusterId)).toContain(detail.clusterId);

    // Submitting again finds the group already in the queue and submits nothing.
    expect(await project.submit({ operations: ['ex'] })).toEqual([]);

    await waitUntil('both cluster jobs to leave the queue', 90_000, async () => (await ourQueue()).length === 0);
    const done = await project.status();
    const ex = done.groups.find((group) => group.name === 'ex')!;
    expect([ex.complete, ex.eligible, active(ex.states)]).toEqual([2, 0, 0]);
    for (const job of jobs) {
      const op1 = JSON.parse(readFileSync(job.fn('op1.txt'), 'utf8')) as { pid: number; at: number };
      const op2 = JSON.parse(readFileSync(job.fn('op2.txt'), 'utf8')) as { pid: number; at: number };
      // One cluster job ran both operations of the group, in one process, op1 first.
      expect(op1.pid).not.toBe(process.pid);
      expect(op2.pid).toBe(op1.pid);
      expect(op2.at).toBeGreaterThanOrEqual(op1.at);
    }
  });

  it('shows a held job as held, and --after submits at once without waiting; releasing runs both in order', {
    timeout: 120_000,
  }, async (context) => {
    const slurm = requireSlurm(context);
    const job = project.openJob({ n: 3 }).init();
    const [held] = await project.submit({ operations: ['slow'], hold: true });
    expect(states((await project.status()).groups, 'slow')).toEqual({ held: 1 });

    const started = performance.now();
    const [after] = await project.submit({ operations: ['independent'], after: held!.clusterId! });
    expect(performance.now() - started).toBeLessThan(10_000);
    const report = await project.status();
    expect(states(report.groups, 'independent')).toEqual({ queued: 1 });
    expect(states(report.groups, 'slow')).toEqual({ held: 1 });

    const release = await runCommand('scontrol', ['release', held!.clusterId!], { env: slurm.env, timeoutMs: 10_000 });
    expect(release.code, release.stderr).toBe(0);
    await waitUntil('the released job and its dependant to finish', 90_000, async () => (await ourQueue()).length === 0);
    const slow = JSON.parse(readFileSync(job.fn('slow.txt'), 'utf8')) as { at: number };
    const independent = JSON.parse(readFileSync(job.fn('independent.txt'), 'utf8')) as { at: number };
    expect(independent.at).toBeGreaterThan(slow.at);
    expect(after!.clusterId).not.toBe(held!.clusterId);
  });

  it('bundles two jobs into one cluster job and maps its state back onto both', { timeout: 120_000 }, async (context) => {
    requireSlurm(context);
    const jobs = [6, 7].map((n) => project.openJob({ n }).init());
    const submissions = await project.submit({ operations: ['independent'], bundle: 2, parallel: true });
    expect(submissions).toHaveLength(1);
    expect(submissions[0]!.name).toMatch(/^fixture-[0-9a-f]{8}\.bundle\.[0-9a-f]{16}$/);
    const report = await project.status();
    expect(active(states(report.groups, 'independent'))).toBe(2);
    expect(new Set(report.jobs.map((job) => job.groups.independent!.clusterId))).toEqual(new Set([submissions[0]!.clusterId]));
    await waitUntil('the bundle to finish', 90_000, async () => (await ourQueue()).length === 0);
    for (const job of jobs) expect(await project.isComplete('independent', job)).toBe(true);
  });

  it('status shows a finished cluster job as completed, from SLURM’s accounting (the job completion log)', {
    timeout: 120_000,
  }, async (context) => {
    requireSlurm(context);
    const job = project.openJob({ n: 8 }).init();
    const [submission] = await project.submit({ operations: ['independent'] });
    await waitUntil('the job to leave the queue', 90_000, async () => (await ourQueue()).length === 0);
    const report = await project.status();
    expect(report.schedulerError).toBeUndefined();
    expect(states(report.groups, 'independent')).toEqual({ completed: 1 });
    expect(report.jobs.find((entry) => entry.id === job.id)?.groups.independent).toMatchObject({
      complete: true,
      state: 'completed',
      clusterId: submission!.clusterId,
    });
  });

  it('submit -n 2 submits two of three eligible jobs', { timeout: 60_000 }, async (context) => {
    const slurm = requireSlurm(context);
    for (const n of [9, 10, 11]) project.openJob({ n }).init();
    const code = await project.main(['submit', '-o', 'slow', '-n', '2', '--hold'], { stdout, stderr: collector(), setExitCode: false });
    const ids = [...stdout.text.matchAll(/as cluster job (\d+)/g)].map((match) => match[1]!);
    try {
      expect(code).toBe(0);
      expect(ids).toHaveLength(2);
      expect(states((await project.status()).groups, 'slow')).toEqual({ held: 2 });
    } finally {
      // Held jobs would stay in the queue for the next tests.
      if (ids.length > 0) await runCommand('scancel', ids, { env: slurm.env, timeoutMs: 10_000 });
    }
  });

  it('submit --pretend submits nothing and writes no file', { timeout: 60_000 }, async (context) => {
    requireSlurm(context);
    project.openJob({ n: 4 }).init();
    const before = readdirSync(root, { recursive: true }).sort();
    const queueBefore = await ourQueue();
    const code = await project.main(['submit', '--pretend', '-o', 'ex', '--bundle', '2'], {
      stdout,
      stderr: collector(),
      setExitCode: false,
    });
    expect(code).toBe(0);
    expect(stdout.text).toContain(`#SBATCH --job-name=${project.clusterPrefix}.`);
    expect(readdirSync(root, { recursive: true }).sort()).toEqual(before);
    expect(await ourQueue()).toEqual(queueBefore);
  });

  it('a GPU request this node cannot satisfy fails the submission with SLURM’s own message', { timeout: 60_000 }, async (context) => {
    requireSlurm(context);
    project.openJob({ n: 5 }).init();
    const error = await project.submit({ operations: ['forked'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GroupsError);
    expect((error as GroupsError).code).toBe('SCHEDULER');
    expect((error as Error).message).toMatch(/sbatch failed .*(gres|GRES|generic resource|Requested node configuration)/i);
    expect(await ourQueue()).toEqual([]);
  });
});
