import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProject } from '../test/fixtures/project.js';
import { collector, tsxExecutable } from '../test/helpers.js';
import { PROGRESS_THRESHOLD } from './cli.js';
import { post, pre } from './conditions.js';
import type { Directives } from './directives.js';
import { GroupsError } from './errors.js';
import { defaultExecutable, FlowProject } from './project.js';
import type { Job } from './workspace.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vf-groups-project-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const quiet = () => ({ stdout: collector(), stderr: collector() });
const touch = (name: string) => (job: Job) => writeFileSync(job.fn(name), 'x');

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(GroupsError);
  expect((caught as GroupsError).code).toBe(code);
  expect((caught as Error).message).toMatch(message);
}

async function expectRejection(promise: Promise<unknown>, code: string, message: RegExp): Promise<GroupsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GroupsError);
  expect((error as GroupsError).code).toBe(code);
  expect((error as Error).message).toMatch(message);
  return error as GroupsError;
}

describe('definitions', () => {
  it('makes every operation a singleton group and keeps group-specific directives (signac-flow’s ex example)', () => {
    const project = new FlowProject({ root, ...quiet() });
    const ex = project.makeGroup('ex');
    project.operation('op1', () => {}, { directives: { ngpu: 1 }, groups: [ex.with({ directives: { ngpu: 2 } })] });
    project.operation('op2', () => {}, { groups: [ex] });
    expect(project.groups.map((group) => [group.name, group.singleton, group.operationNames])).toEqual([
      ['ex', false, ['op1', 'op2']],
      ['op1', true, ['op1']],
      ['op2', true, ['op2']],
    ]);
    // op1 requests one GPU alone and two GPUs through ex (run -o ex).
    expect(project.directivesIn('op1', 'op1').ngpu).toBe(1);
    expect(project.directivesIn('ex', 'op1').ngpu).toBe(2);
    expect(project.groupDirectives('ex').ngpu).toBe(2);
  });

  it('replaces (does not merge) an operation’s directives inside a group and combines members serially', () => {
    const project = new FlowProject({ root, ...quiet() });
    const ex = project.makeGroup('ex');
    project.operation('a', () => {}, {
      directives: { np: 4, walltime: 2, memory: '8g' },
      groups: [ex.with({ directives: { walltime: 1 } })],
    });
    project.operation('b', () => {}, { directives: { np: 2, ngpu: 1, walltime: 3, memory: '512m' }, groups: [ex] });
    expect(project.directivesIn('ex', 'a').np).toBe(1);
    const combined = project.groupDirectives('ex');
    expect([combined.np, combined.ngpu, combined.walltime, combined.memory]).toEqual([2, 1, 4, 0.5]);
    expect(project.groupDirectives('a').memory).toBe(8);
  });

  it("rejects invalid group directives at definition (INVALID_DIRECTIVE), as an operation's own are, so nothing runs", () => {
    const project = new FlowProject({ root, ...quiet() });
    const ex = project.makeGroup('ex');
    project.operation('op1', touch('a'), { groups: [ex] });
    // Typed as unknown: the values a JavaScript caller (or a cast) can still pass.
    for (const directives of [{ np: -1 }, { walltime: 'abc' }, { memory: '4x' }] as unknown as Directives[]) {
      expect(() => project.operation(`op_${Object.keys(directives)[0]}`, touch('b'), { groups: [ex.with({ directives })] })).toThrow(
        expect.objectContaining({ code: 'INVALID_DIRECTIVE', message: expect.stringContaining('in group "ex"') }),
      );
    }
    // A function of the job can only be checked with a job: at run time, as before.
    project.operation('op2', touch('b'), { groups: [ex.with({ directives: { np: () => 2 } })] });
  });

  it('rejects a group named like an operation, and an operation named like a group', () => {
    const project = new FlowProject({ root, ...quiet() });
    project.operation('op1', () => {});
    expectError(() => project.makeGroup('op1'), 'GROUP_DEFINITION', /cannot make group "op1": an operation/);
    project.makeGroup('ex');
    expectError(() => project.operation('ex', () => {}), 'GROUP_DEFINITION', /cannot define operation "ex": a group/);
    expectError(() => project.operation('op1', () => {}), 'GROUP_DEFINITION', /an operation of that name exists/);
  });

  it('rejects a repeated group, a non-operation, an operation added twice and bad names', () => {
    const project = new FlowProject({ root, ...quiet() });
    const ex = project.makeGroup('ex');
    expectError(() => project.makeGroup('ex'), 'GROUP_DEFINITION', /group "ex" is defined twice/);
    const op1 = project.operation('op1', () => {}, { groups: [ex] });
    expectError(() => ex.add('nope'), 'GROUP_DEFINITION', /"nope" is not an operation of this project/);
    expectError(() => ex.add((() => {}) as never), 'GROUP_DEFINITION', /is not an operation/);
    expectError(() => ex.add(op1), 'GROUP_DEFINITION', /added to group "ex" twice/);
    expectError(() => project.operation('op2', () => {}, { groups: [ex, ex] }), 'GROUP_DEFINITION', /twice/);
    expectError(() => project.group('op1').add('op1'), 'GROUP_DEFINITION', /singleton/);
    expectError(() => project.makeGroup('bad name'), 'GROUP_DEFINITION', /invalid/);
    expectError(() => project.operation('', () => {}), 'GROUP_DEFINITION', /invalid/);
    const other = new FlowProject({ root, ...quiet() }).makeGroup('elsewhere');
    expectError(() => project.operation('op3', () => {}, { groups: [other] }), 'GROUP_DEFINITION', /this project's makeGroup/);
    expect(() => project.operation('op4', () => {}, { directives: { np: 0 } })).toThrow(/invalid directive np=0 for operation "op4"/);
    // add() works for operations defined before the group.
    project.makeGroup('late').add('op1', { directives: { np: 3 } });
    expect(project.directivesIn('late', 'op1').np).toBe(3);
  });
});

describe('eligibility', () => {
  it('follows signac-flow: all pre hold and not all post hold; groups: any member eligible, complete when all are', async () => {
    const project = new FlowProject({ root, ...quiet() });
    const ex = project.makeGroup('ex');
    project.operation('a', touch('a.txt'), { post: [post.isFile('a.txt')], groups: [ex] });
    project.operation('b', touch('b.txt'), { pre: [pre.after('a')], post: [post.isFile('b.txt'), post.isTrue('b_ok')], groups: [ex] });
    project.operation('c', () => {}, { pre: [pre.never()] });
    project.operation('d', () => {});
    const job = project.openJob({ n: 1 }).init();
    const state = async () =>
      Promise.all([
        project.isEligible('a', job),
        project.isEligible('b', job),
        project.isGroupEligible('ex', job),
        project.isGroupComplete('ex', job),
      ]);
    expect(await state()).toEqual([true, false, true, false]);
    touch('a.txt')(job);
    expect(await state()).toEqual([false, true, true, false]);
    touch('b.txt')(job);
    expect(await state()).toEqual([false, true, true, false]); // one post of b still fails
    job.doc.set('b_ok', true);
    expect(await state()).toEqual([false, false, false, true]);
    expect(await project.isEligible('c', job)).toBe(false);
    // No post-conditions: always eligible, never complete.
    expect(await project.isEligible('d', job)).toBe(true);
    expect(await project.isComplete('d', job)).toBe(false);
    expect((await project.next('ex')).map((j) => j.id)).toEqual([]);
    expect((await project.next('d')).map((j) => j.id)).toEqual([job.id]);
  });
});

describe('run', () => {
  function chain() {
    const project = new FlowProject({ root, ...quiet() });
    const order: string[] = [];
    const record = (name: string) => (job: Job) => {
      order.push(`${name}:${String(job.sp.n)}`);
      touch(`${name}.txt`)(job);
    };
    project.operation('first', record('first'), { post: [post.isFile('first.txt')] });
    project.operation('second', record('second'), { pre: [pre.after('first')], post: [post.isFile('second.txt')] });
    project.operation('third', record('third'), { pre: [pre.after('second')], post: [post.isFile('third.txt')] });
    for (const n of [1, 2]) project.openJob({ n }).init();
    return { project, order };
  }

  it('runs in passes: an operation made eligible by another runs in a later pass', async () => {
    const { project } = chain();
    const result = await project.run();
    expect(result.passes).toBe(3);
    const byOperation = new Map(result.executed.map((record) => [record.operation, record.pass]));
    expect(Object.fromEntries(byOperation)).toEqual({ first: 1, second: 2, third: 3 });
    expect(result.executed).toHaveLength(6);
    expect(result.incomplete).toEqual([]);
    expect((await project.run()).executed).toEqual([]);
  });

  it('stops after --num-passes and runs members of a group in one pass', async () => {
    const { project } = chain();
    expect((await project.run({ numPasses: 1 })).executed.map((record) => record.operation)).toEqual(['first', 'first']);
    const group = project.makeGroup('all');
    for (const name of ['first', 'second', 'third']) group.add(name);
    const result = await project.run({ operations: ['all'] });
    expect(result.passes).toBe(1);
    expect(result.executed.map((record) => `${record.operation}@${record.pass}`)).toEqual(['second@1', 'third@1', 'second@1', 'third@1']);
  });

  it('runs an operation without post-conditions once per call, and warns about one still incomplete', async () => {
    const project = new FlowProject({ root, ...quiet() });
    let calls = 0;
    project.operation('always', () => {
      calls++;
    });
    project.operation('stubborn', () => {}, { post: [post.isFile('never.txt')] });
    project.openJob({ n: 1 }).init();
    const stderr = collector();
    const result = await project.withOutput({ stderr }, () => project.run());
    expect(calls).toBe(1);
    expect(result.incomplete.map((record) => record.operation)).toEqual(['stubborn']);
    expect(stderr.text).toMatch(/stubborn ran on job .* post-conditions still do not hold/);
  });

  it('selects groups by full-name regular expression and rejects overlapping selections', async () => {
    const project = createProject(root, quiet());
    expect(project.selectGroups(['op.']).map((group) => group.name)).toEqual(['op1', 'op2']);
    expect(project.selectGroups(['ex', 'slow']).map((group) => group.name)).toEqual(['ex', 'slow']);
    await expectRejection(project.run({ operations: ['ex', 'op1'] }), 'OVERLAPPING_GROUPS', /"ex" and "op1" both contain operation "op1"/);
    await expectRejection(project.run({ operations: ['.*'] }), 'OVERLAPPING_GROUPS', /both contain/);
    await expectRejection(project.run({ operations: ['nothing'] }), 'NOT_FOUND', /matches no group/);
    await expectRejection(project.run({ operations: ['('] }), 'USAGE', /not a regular expression/);
  });

  it('fails fast, naming the job and operation, and starts nothing after the failure', async () => {
    const project = new FlowProject({ root, ...quiet() });
    const ran: number[] = [];
    project.operation(
      'flaky',
      (job) => {
        if (job.sp.n === 2) throw new Error('disk full');
        ran.push(Number(job.sp.n));
        touch('flaky.txt')(job);
      },
      { post: [post.isFile('flaky.txt')] },
    );
    project.operation('later', () => {}, { pre: [pre.after('flaky')] });
    const jobs = [1, 2, 3, 4].map((n) => project.openJob({ n }).init());
    const bad = jobs[1]!;
    const error = await expectRejection(
      project.run(),
      'OPERATION_FAILED',
      new RegExp(`operation "flaky" failed on job ${bad.id}: disk full`),
    );
    expect(error.details).toMatchObject({ operation: 'flaky', job: bad.id });
    expect((error.cause as Error).message).toBe('disk full');
    // Jobs run in id order; nothing after the failing job ran, and no second pass started.
    const order = jobs.map((job) => job).sort((a, b) => a.id.localeCompare(b.id));
    const before = order.slice(0, order.indexOf(bad)).map((job) => Number(job.sp.n));
    expect(ran).toEqual(before);
  });

  it('runs jobs in parallel, at most --parallel at once', async () => {
    const project = new FlowProject({ root, ...quiet() });
    let running = 0;
    let peak = 0;
    project.operation(
      'wait',
      async (job) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 30));
        running--;
        touch('wait.txt')(job);
      },
      { post: [post.isFile('wait.txt')] },
    );
    for (let n = 0; n < 7; n++) project.openJob({ n }).init();
    const result = await project.run({ parallel: 3 });
    expect(result.executed).toHaveLength(7);
    expect(peak).toBe(3);
    await expectRejection(project.run({ parallel: 0 }), 'USAGE', /--parallel must be a positive integer/);
  });

  it('--pretend runs nothing and lists what would run', async () => {
    const { project, order } = chain();
    const stdout = collector();
    const result = await project.withOutput({ stdout }, () => project.run({ pretend: true }));
    expect(order).toEqual([]);
    expect(result.planned.map((entry) => entry.group)).toEqual(['first', 'first']);
    expect(stdout.text).toMatch(/would run first on job [0-9a-f]{32}/);
  });

  it('exec runs an operation whatever its conditions, on the jobs given by id prefix', async () => {
    const { project, order } = chain();
    const [job] = project.jobs();
    await project.exec('third', [job!.id.slice(0, 6)]);
    expect(order).toEqual([`third:${String(job!.sp.n)}`]);
    await expectRejection(project.exec('nope'), 'NOT_FOUND', /no operation named "nope"/);
  });

  it('forks an operation with fork: true, restricting it to its GPU budget', { timeout: 30_000 }, async () => {
    process.env.VF_PROJECT_ROOT = root;
    const stdout = collector();
    const project = createProject(root, { executable: tsxExecutable, stdout, stderr: collector() });
    const job = project.openJob({ n: 1 }).init();
    const result = await project.run({ operations: ['forked'] });
    expect(result.executed.map((record) => record.operation)).toEqual(['forked']);
    const stamp = JSON.parse(readFileSync(job.fn('forked.txt'), 'utf8')) as { pid: number; cuda: string | null };
    expect(stamp.pid).not.toBe(process.pid);
    const expected = process.env.CUDA_VISIBLE_DEVICES === undefined ? '0' : process.env.CUDA_VISIBLE_DEVICES.split(',')[0];
    expect(stamp.cuda).toBe(expected);
  });
});

describe('main (the command line)', () => {
  async function cli(project: FlowProject, ...argv: string[]) {
    const stdout = collector();
    const stderr = collector();
    const code = await project.main(argv, { stdout, stderr, setExitCode: false });
    return { code, out: stdout.text, err: stderr.text };
  }

  it('status shows eligible and complete counts per group; next lists eligible jobs', async () => {
    const project = createProject(root, { scheduler: { name: 'none', submit: async () => '1', queue: async () => [] } });
    const jobs = [1, 2, 3].map((n) => project.openJob({ n }).init());
    writeFileSync(jobs[0]!.fn('op1.txt'), 'x');
    const status = await cli(project, 'status');
    expect(status.code).toBe(0);
    const row = (name: string) => status.out.split('\n').find((line) => line.startsWith(`│ ${name} `));
    expect(row('ex')).toMatch(/op1, op2\s+│ 3\/3\s+│ 0\/3/);
    expect(row('op1')).toMatch(/│ 2\/3\s+│ 1\/3/);
    expect(row('op2')).toMatch(/│ 1\/3\s+│ 0\/3/);
    expect(status.out).toMatch(/3 job\(s\); scheduler: none/);
    const next = await cli(project, 'next', 'op2');
    expect(next.out.trim()).toBe(jobs[0]!.id);
    const json = JSON.parse((await cli(project, 'status', '--json', '-o', 'ex')).out) as { groups: { name: string; eligible: number }[] };
    expect(json.groups).toEqual([expect.objectContaining({ name: 'ex', eligible: 3 })]);
    expect((await cli(project, 'status', '-d')).out).toContain(jobs[0]!.id.slice(0, 8));
  });

  it('status draws a progress bar on a terminal for large workspaces, and nothing otherwise', async () => {
    const project = new FlowProject({ root, scheduler: { name: 'none', submit: async () => '1', queue: async () => [] } });
    project.operation('op', () => {}, { post: [post.isFile('done')] });
    for (let n = 0; n < PROGRESS_THRESHOLD; n++) project.openJob({ n }).init();
    const terminal = Object.assign(collector(), { isTTY: true, columns: 100 });
    expect(await project.main(['status'], { stdout: collector(), stderr: terminal, setExitCode: false })).toBe(0);
    expect(terminal.text).toContain(`${PROGRESS_THRESHOLD}/${PROGRESS_THRESHOLD} jobs`);
    const pipe = collector();
    await project.main(['status'], { stdout: collector(), stderr: pipe, setExitCode: false });
    expect(pipe.text).toBe('');
  });

  it('run exits 0 when done, 1 naming the job and operation on failure, 2 on bad usage', async () => {
    const project = new FlowProject({ root });
    project.operation('ok', touch('ok.txt'), { post: [post.isFile('ok.txt')] });
    project.operation('boom', () => {
      throw new Error('kaput');
    });
    const job = project.openJob({ n: 1 }).init();
    const ok = await cli(project, 'run', '-o', 'ok');
    expect([ok.code, ok.out]).toEqual([0, 'ran 1 operation(s) in 1 pass(es)\n']);
    const failed = await cli(project, 'run', '-o', 'boom');
    expect(failed.code).toBe(1);
    expect(failed.err).toContain(`error [OPERATION_FAILED]: operation "boom" failed on job ${job.id}: kaput`);
    expect((await cli(project, 'run', '--parallel', 'x')).code).toBe(2);
    expect((await cli(project, 'run', '-o', 'ok', 'boom', '--num-passes', '0')).code).toBe(2);
    expect((await cli(project, 'frobnicate')).code).toBe(2);
    expect((await cli(project, 'run', '-j', 'zz')).err).toMatch(/"zz" is not a job id/);
    expect((await cli(project, '--help')).code).toBe(0);
  });

  it('status shows as submitted only the submitted group, not another group sharing an operation with it', async () => {
    let name = '';
    const scheduler = {
      name: 'fake',
      submit: async () => '1',
      queue: async () => [{ id: '7', name, state: 'queued' as const, detail: 'PENDING' }],
    };
    const project = new FlowProject({ root, name: 'p', scheduler, ...quiet() });
    const [g1, g2] = [project.makeGroup('g1'), project.makeGroup('g2')];
    project.operation('a', () => {}, { groups: [g1] });
    project.operation('b', () => {}, { groups: [g1, g2] });
    project.operation('c', () => {}, { groups: [g2] });
    name = project.clusterJobName('g1', project.openJob({ n: 1 }).init().id);
    const report = await project.status();
    const states = Object.fromEntries(report.groups.map((group) => [group.name, group.states]));
    // g1 was submitted, and so its operations are queued; g2 was not, though it shares b.
    expect(states).toEqual({ g1: { queued: 1 }, g2: {}, a: { queued: 1 }, b: { queued: 1 }, c: {} });
  });

  it("two projects whose roots share a folder name do not take each other's cluster jobs for their own", async () => {
    const queue: { id: string; name: string; state: 'queued'; detail: string }[] = [];
    const scheduler = {
      name: 'fake',
      submit: async (script: string) => {
        queue.push({ id: String(queue.length + 1), name: /--job-name=(\S+)/.exec(script)![1]!, state: 'queued', detail: 'PENDING' });
        return String(queue.length);
      },
      queue: async () => [...queue],
    };
    const [a, b] = ['study1', 'study2'].map((study) => {
      const project = new FlowProject({
        root: join(root, study, 'project'),
        scheduler,
        templates: { fake: '#SBATCH --job-name=<%= it.name %>\n' },
        ...quiet(),
      });
      project.operation('simulate', () => {});
      project.openJob({ T: 300 }).init();
      return project;
    });
    expect(a!.name).toBe(b!.name);
    expect(await a!.submit()).toHaveLength(1);
    // Before, B saw A's queued job (same name, same job id) as its own and submitted nothing.
    expect(await b!.submit()).toHaveLength(1);
    expect((await b!.status()).groups.find((group) => group.name === 'simulate')?.states).toEqual({ queued: 1 });
    expect(queue[0]!.name).toMatch(/^project-[0-9a-f]{8}\.[0-9a-f]{32}\.simulate$/);
    expect(queue[0]!.name).not.toBe(queue[1]!.name);
  });

  it('two concurrent submits submit each group on each job once', async () => {
    const queue: { id: string; name: string; state: 'queued'; detail: string }[] = [];
    const scheduler = {
      name: 'fake',
      submit: async (script: string) => {
        // A slow sbatch: the second submit reads the queue while the first is submitting.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const name = /--job-name=(\S+)/.exec(script)![1]!;
        queue.push({ id: String(queue.length + 1), name, state: 'queued', detail: 'PENDING' });
        return String(queue.length);
      },
      queue: async () => [...queue],
    };
    const project = createProject(root, { scheduler, templates: { fake: '#SBATCH --job-name=<%= it.name %>\n' }, ...quiet() });
    for (const n of [1, 2]) project.openJob({ n }).init();
    const [first, second] = await Promise.all([project.submit({ operations: ['ex'] }), project.submit({ operations: ['ex'] })]);
    expect(first.length + second.length).toBe(2);
    expect(queue.map((job) => job.name).sort()).toEqual([...new Set(queue.map((job) => job.name))].sort());
  });

  it('status prints no scheduler error where sbatch is installed but SLURM is not configured', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'vf-groups-bin-'));
    const path = process.env.PATH;
    try {
      // What Debian's slurm-client prints without a slurm.conf.
      const unconfigured = '#!/bin/sh\necho "$(basename "$0"): fatal: Could not establish a configuration source" >&2\nexit 1\n';
      for (const command of ['sbatch', 'squeue']) writeFileSync(join(bin, command), unconfigured, { mode: 0o755 });
      process.env.PATH = `${bin}:${path}`;
      const project = createProject(root);
      project.openJob({ n: 1 }).init();
      const status = await cli(project, 'status');
      expect([status.code, status.err]).toEqual([0, '']);
      expect(status.out).toMatch(/1 job\(s\); scheduler: none found\n$/);
    } finally {
      process.env.PATH = path;
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('submit --pretend prints a script and writes nothing, even with no scheduler installed', async () => {
    const project = createProject(root, { scheduler: 'slurm', executable: 'node' });
    const job = project.openJob({ n: 1 }).init();
    const before = readdirSync(root, { recursive: true }).sort();
    const result = await cli(project, 'submit', '--pretend', '-o', 'ex', '--hold', '--after', '42');
    expect(result.code).toBe(0);
    expect(result.out).toContain(`#SBATCH --job-name=${project.clusterJobName('ex', job.id)}`);
    expect(result.out).toContain('#SBATCH --hold');
    expect(result.out).toContain('#SBATCH --dependency=afterok:42');
    expect(result.out).toContain(`run -o '^ex$' -j ${job.id}`);
    expect(readdirSync(root, { recursive: true }).sort()).toEqual(before);
    expect(existsSync(join(root, '.vf'))).toBe(false);
  });
});

describe('defaultExecutable', () => {
  it('is this Node.js with its flags, bare loader specifiers made absolute', () => {
    const cwd = new URL('..', import.meta.url).pathname;
    const executable = defaultExecutable(
      ['--import', 'tsx', '--conditions=@vf/source', '--loader=./local.mjs', '--import=file:///x.mjs'],
      cwd,
    );
    const words = executable.split(' ');
    expect(words[0]).toBe(process.execPath);
    expect(words[1]).toBe('--import');
    expect(words[2]).toMatch(/^file:\/\/\/.*tsx.*\.(m?js|cjs)$/);
    expect(words.slice(3)).toEqual(['--conditions=@vf/source', `--loader=${join(cwd, 'local.mjs')}`, '--import=file:///x.mjs']);
    expect(defaultExecutable(['--import', 'no-such-package-xyz'], cwd)).toContain('--import no-such-package-xyz');
  });
});
