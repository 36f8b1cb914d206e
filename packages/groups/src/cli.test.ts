// The command line, flag by flag, against signac-flow's documented behaviour (see the README's table).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collector } from '../test/helpers.js';
import { post, pre } from './conditions.js';
import { FlowProject } from './project.js';
import type { ClusterJob } from './schedulers/scheduler.js';
import type { Job } from './workspace.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vf-groups-cli-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A scheduler whose queue is what was submitted to it. */
function fakeScheduler() {
  const queue: ClusterJob[] = [];
  return {
    queue,
    scheduler: {
      name: 'fake',
      submit: async (script: string) => {
        const name = /--job-name=(\S+)/.exec(script)?.[1] ?? '?';
        queue.push({ id: String(queue.length + 1), name, state: 'queued' as const, detail: 'PENDING' });
        return String(queue.length);
      },
      queue: async () => [...queue],
    },
  };
}

/** Six jobs n = 0..5, `mark` writing `mark.txt`, `after_mark` needing it. */
function project(): { project: FlowProject; jobs: Job[]; ran: string[]; queue: ClusterJob[] } {
  const { scheduler, queue } = fakeScheduler();
  const ran: string[] = [];
  const flow = new FlowProject({
    root,
    name: 'p',
    scheduler,
    templates: { fake: '#SBATCH --job-name=<%= it.name %>\n' },
    stdout: collector(),
    stderr: collector(),
  });
  flow.operation(
    'mark',
    (job) => {
      ran.push(`mark:${job.sp.n}`);
      writeFileSync(job.fn('mark.txt'), 'x');
    },
    { post: [post.isFile('mark.txt')] },
  );
  flow.operation('after_mark', (job) => void ran.push(`after_mark:${job.sp.n}`), { pre: [pre.isFile('mark.txt')], post: [post.never()] });
  flow.label('even', (job) => Number(job.sp.n) % 2 === 0);
  flow.label('size', (job) => (Number(job.sp.n) < 3 ? 'small' : 'large'));
  const jobs = [0, 1, 2, 3, 4, 5].map((n) => flow.openJob({ n, kind: n < 3 ? 'a' : 'b' }).init());
  return { project: flow, jobs, ran, queue };
}

async function cli(flow: FlowProject, ...argv: string[]) {
  const stdout = collector();
  const stderr = collector();
  const code = await flow.main(argv, { stdout, stderr, setExitCode: false });
  return { code, out: stdout.text, err: stderr.text };
}

describe('job selection: -j, -f, --doc-filter', () => {
  it('-f selects by state point with signac’s syntax ($gt/$lt/$in, key value pairs, JSON)', async () => {
    const { project: flow, ran } = project();
    expect((await cli(flow, 'run', '-o', 'mark', '-f', 'n', '{"$gt": 0, "$lt": 3}')).code).toBe(0);
    expect(ran.sort()).toEqual(['mark:1', 'mark:2']);
    ran.length = 0;
    expect((await cli(flow, 'run', '-o', 'mark', '-f', '{"n": {"$in": [4, 5]}}')).code).toBe(0);
    expect(ran.sort()).toEqual(['mark:4', 'mark:5']);
    ran.length = 0;
    expect((await cli(flow, 'run', '-o', 'mark', '-f', 'kind', 'a')).code).toBe(0);
    expect(ran).toEqual(['mark:0']);
  });

  it('--doc-filter selects by document; -j with -f is a usage error (as in signac-flow)', async () => {
    const { project: flow, jobs, ran } = project();
    jobs[3]!.doc.set('ready', true);
    expect((await cli(flow, 'run', '-o', 'mark', '--doc-filter', 'ready', 'true')).code).toBe(0);
    expect(ran).toEqual(['mark:3']);
    const both = await cli(flow, 'run', '-j', jobs[0]!.id, '-f', 'n', '0');
    expect([both.code, both.err]).toEqual([2, expect.stringContaining('cannot be combined')]);
    const status = await cli(flow, 'status', '-o', 'mark', '-f', 'kind', 'b', '--json');
    expect((JSON.parse(status.out) as { jobs: unknown[] }).jobs).toHaveLength(3);
  });
});

describe('run flags', () => {
  it('-n limits the operations run; --ignore-conditions pre runs what pre-conditions hold back', async () => {
    const { project: flow, ran } = project();
    expect((await cli(flow, 'run', '-o', 'mark', '-n', '2')).out).toBe('ran 2 operation(s) in 1 pass(es)\n');
    ran.length = 0;
    await cli(flow, 'run', '-o', 'after_mark', '-f', 'n', '5', '--ignore-conditions', 'pre');
    expect(ran).toEqual(['after_mark:5']);
    ran.length = 0;
    // post ignored: a complete operation runs again.
    await cli(flow, 'run', '-o', 'mark', '-f', 'n', '0', '--ignore-conditions', 'post');
    expect(ran).toEqual(['mark:0']);
    expect((await cli(flow, 'run', '--ignore-conditions', 'some')).code).toBe(2);
    expect((await cli(flow, 'run', '-t', '0')).code).toBe(2);
  });

  it('--progress draws a bar on standard error; --show-traceback prints the stack and its causes', async () => {
    const { project: flow } = project();
    const run = await cli(flow, 'run', '-o', 'mark', '--progress');
    expect(run.err).toMatch(/run \|.*\| 6\/6/);
    flow.operation('boom', () => {
      throw new Error('kaput');
    });
    const plain = await cli(flow, 'run', '-o', 'boom', '-n', '1');
    expect(plain.err).not.toContain('    at ');
    const traced = await cli(flow, '--show-traceback', 'run', '-o', 'boom', '-n', '1');
    expect(traced.err).toMatch(/error \[OPERATION_FAILED\][^\n]*kaput\n.*GroupsError[^\n]*\n\s+at /s);
    expect(traced.err).toMatch(/caused by: Error: kaput\n\s+at /);
  });
});

describe('status flags', () => {
  it('shows labels, -p parameters (the varying ones by default), --pretty bars and symbols', async () => {
    const { project: flow } = project();
    await cli(flow, 'run', '-o', 'mark', '-f', 'n', '0');
    const overview = await cli(flow, 'status');
    expect(overview.out).toMatch(/│ even\s+│ 3\/6/);
    expect(overview.out).toMatch(/│ small\s+│ 3\/6/);
    const parameters = await cli(flow, 'status', '-p', 'kind');
    expect(parameters.out).toMatch(/│ job\s+│ kind\s+│ labels/);
    expect(parameters.out).not.toContain('state point');
    const varying = await cli(flow, 'status', '-p');
    expect(varying.out).toMatch(/│ job\s+│ kind\s+│ n\s+│ labels/);
    const pretty = await cli(flow, 'status', '-d', '--pretty');
    expect(pretty.out).toContain('✓');
    expect(pretty.out).toMatch(/█░+ 17%/);
  });
});

describe('selection errors', () => {
  it('status -o and exec report a bad pattern (USAGE, exit 2) and an unknown name (NOT_FOUND, exit 1) as run does', async () => {
    const { project: flow } = project();
    for (const command of ['run', 'status']) {
      const bad = await cli(flow, command, '-o', '(');
      expect([command, bad.code, bad.err]).toEqual([
        command,
        2,
        expect.stringMatching(/^error \[USAGE\]: -o \(: not a regular expression/),
      ]);
      const unknown = await cli(flow, command, '-o', 'nomatch');
      expect([command, unknown.code, unknown.err]).toEqual([
        command,
        1,
        expect.stringMatching(/^error \[NOT_FOUND\]: -o nomatch matches no group/),
      ]);
    }
    const exec = await cli(flow, 'exec', 'nope');
    expect([exec.code, exec.err]).toEqual([1, expect.stringMatching(/^error \[NOT_FOUND\]: no operation named "nope"/)]);
  });

  it('submit refuses (USAGE) a --partition with a space or newline, which would break the script header', async () => {
    const { project: flow } = project();
    for (const partition of ['gpu debug', 'gpu\n#SBATCH --wrap=x', '']) {
      const submit = await cli(flow, 'submit', '--pretend', '--partition', partition);
      expect([submit.code, submit.out, submit.err]).toEqual([
        2,
        '',
        expect.stringMatching(/^error \[USAGE\]: --partition .*not a partition/),
      ]);
    }
    expect((await cli(flow, 'submit', '--pretend', '--partition', 'gpu,debug')).code).toBe(0);
  });
});

describe('submit flags', () => {
  it('-n 2 submits two; -b bundles, a bare -b all in one; --hold, -p pass through to the script', async () => {
    const { project: flow, queue } = project();
    expect((await cli(flow, 'submit', '-o', 'mark', '-n', '2')).code).toBe(0);
    expect(queue).toHaveLength(2);
    expect((await cli(flow, 'submit', '-o', 'mark', '-b')).code).toBe(0);
    expect(queue).toHaveLength(3);
    expect(queue[2]!.name).toMatch(/^p-[0-9a-f]{8}\.bundle\./);
    const pretend = await cli(flow, 'submit', '-o', 'after_mark', '--ignore-conditions', 'pre', '-b', '3', '-p', '--pretend');
    expect(pretend.out.match(/--job-name=p-[0-9a-f]{8}\.bundle\./g)).toHaveLength(2);
  });
});
