import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collector } from '../../test/helpers.js';
import { FlowProject } from '../project.js';
import type { CommandRunner } from '../runCommand.js';
import { LsfScheduler } from '../schedulers/lsf.js';
import { PbsScheduler } from '../schedulers/pbs.js';
import { SlurmScheduler } from '../schedulers/slurm.js';
import type { SubmitOptions } from '../submission.js';
import { formatMemory, formatWalltime, renderScript, shellQuote } from './renderScript.js';

// Golden files: `UPDATE_GOLDEN=1 npx vitest run src/templates` rewrites them; review the diff.
const golden = (name: string) => new URL(`./golden/${name}`, import.meta.url);

function expectGolden(name: string, text: string): void {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden(name), text);
  expect(text).toBe(readFileSync(golden(name), 'utf8'));
}

/** An empty queue: the scripts depend on nothing but the project. */
const emptyQueue: CommandRunner = async () => ({ code: 0, stdout: '', stderr: '' });

let workspace: string;
beforeAll(() => {
  workspace = mkdtempSync(join(tmpdir(), 'vf-groups-golden-'));
});
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

function project(scheduler: FlowProject['scheduler'] extends () => Promise<infer T> ? NonNullable<T> : never) {
  const p = new FlowProject({
    root: '/srv/vf project',
    name: 'golden',
    workspace,
    script: '/srv/vf project/project.js',
    executable: 'node',
    scheduler,
    stdout: collector(),
    stderr: collector(),
  });
  const ex = p.makeGroup('ex', { submitOptions: ['--parallel', '2'] });
  p.operation('op1', () => {}, { directives: { np: 2, memory: '4g', walltime: 1.5 }, groups: [ex] });
  p.operation('op2', () => {}, { directives: { ngpu: 1 }, groups: [ex.with({ directives: { ngpu: 2, walltime: 0.25, memory: '512m' } })] });
  p.openJob({ n: 1 }).init();
  p.openJob({ n: 2 }).init();
  return p;
}

async function scripts(p: FlowProject, options: SubmitOptions): Promise<string> {
  const submissions = await p.submit({ pretend: true, operations: ['ex'], ...options });
  return submissions.map((submission) => submission.script).join('\n# ---- next cluster job ----\n');
}

describe('scheduler scripts (golden)', () => {
  it('SLURM: one group per job, held, on a partition, GPUs as --gres', async () => {
    expectGolden('slurm.sh', await scripts(project(new SlurmScheduler({ exec: emptyQueue })), { hold: true, partition: 'debug' }));
  });

  it('PBS: one group per job, after another job', async () => {
    expectGolden('pbs.sh', await scripts(project(new PbsScheduler({ exec: emptyQueue })), { after: '1234.server' }));
  });

  it('PBS: a parallel bundle of two jobs', async () => {
    expectGolden('pbs-bundle.sh', await scripts(project(new PbsScheduler({ exec: emptyQueue })), { bundle: 2, parallel: true }));
  });

  it('LSF: one group per job, held', async () => {
    expectGolden('lsf.sh', await scripts(project(new LsfScheduler({ exec: emptyQueue })), { hold: true }));
  });

  it('LSF: a serial bundle of two jobs on a queue, after another job', async () => {
    expectGolden(
      'lsf-bundle.sh',
      await scripts(project(new LsfScheduler({ exec: emptyQueue })), { bundle: 2, after: '77', partition: 'short' }),
    );
  });

  it('the group’s resources are its members combined serially, a parallel bundle adds them up', async () => {
    const p = project(new SlurmScheduler({ exec: emptyQueue }));
    const [single] = await p.submit({ pretend: true, operations: ['ex'], jobs: [p.jobs()[0]!.id] });
    expect([single!.directives.np, single!.directives.ngpu, single!.directives.memory, single!.directives.walltime]).toEqual([
      2, 2, 4, 1.75,
    ]);
    const [bundle] = await p.submit({ pretend: true, operations: ['ex'], bundle: 2, parallel: true });
    expect([bundle!.directives.np, bundle!.directives.ngpu, bundle!.directives.memory, bundle!.directives.walltime]).toEqual([
      4, 4, 8, 1.75,
    ]);
    const [serial] = await p.submit({ pretend: true, operations: ['ex'], bundle: 2 });
    expect([serial!.directives.np, serial!.directives.walltime]).toEqual([2, 3.5]);
  });
});

describe('template helpers', () => {
  it('formats wall time and memory per scheduler', () => {
    expect(formatWalltime(1.75)).toEqual({ slurm: '01:45:00', hms: '01:45:00', hm: '01:45' });
    expect(formatWalltime(49.5)).toEqual({ slurm: '2-01:30:00', hms: '49:30:00', hm: '49:30' });
    expect(formatWalltime(1 / 3600 / 2).hms).toBe('00:00:01');
    expect(formatMemory(4)).toEqual({ slurm: '4G', pbs: '4gb', mb: 4096 });
    expect(formatMemory(0.5)).toEqual({ slurm: '512M', pbs: '512mb', mb: 512 });
  });

  it('formats walltimes with floating-point error without an extra second, and rounds LSF minutes up into the hour', () => {
    expect(formatWalltime(1.1)).toEqual({ slurm: '01:06:00', hms: '01:06:00', hm: '01:06' });
    expect(formatWalltime(0.1 + 0.2).slurm).toBe('00:18:00');
    expect(formatWalltime(2.3).slurm).toBe('02:18:00');
    expect(formatWalltime(1e-9).slurm).toBe('00:00:01');
    expect(formatWalltime(1 + 3599 / 3600)).toEqual({ slurm: '01:59:59', hms: '01:59:59', hm: '02:00' });
  });

  it('quotes shell words only when needed', () => {
    expect(shellQuote('/a/b-c_d.ts')).toBe('/a/b-c_d.ts');
    expect(shellQuote("it's here")).toBe(`'it'"'"'s here'`);
    expect(shellQuote('^ex$')).toBe(`'^ex$'`);
    expect(shellQuote('')).toBe(`''`);
  });

  it('lets a project replace a template, and reports template errors clearly', () => {
    const request = {
      name: 'n',
      root: '/r',
      logDir: '/r/logs',
      directives: {
        np: 1,
        ngpu: 0,
        nranks: 0,
        omp_num_threads: 0,
        memory: undefined,
        walltime: undefined,
        executable: 'node',
        fork: false,
        processor_fraction: 1,
        user: { account: 'abc' },
      },
      commands: [],
      parallel: false,
      hold: false,
    };
    const custom = `<% layout('@base') -%>\n#SBATCH --account=<%~ it.directives.user.account %>\n`;
    expect(renderScript('slurm', request, { slurm: custom })).toMatch(/^#!\/bin\/bash\n#SBATCH --account=abc\n/);
    expect(() => renderScript('slurm', request, { slurm: '<%~ it.nope.deeper %>' })).toThrow(/the slurm script template failed/);
    expect(() => renderScript('htcondor', request)).toThrow(/no script template for scheduler "htcondor"/);
  });
});
