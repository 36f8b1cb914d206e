import { describe, expect, it } from 'vitest';
import { GroupsError } from '../errors.js';
import { type CommandRunner, runCommand } from '../runCommand.js';
import { detectScheduler } from './detectScheduler.js';
import { LsfScheduler, parseBjobs } from './lsf.js';
import { PbsScheduler, parseQstat } from './pbs.js';
import { parseSacct, parseSqueue, SlurmScheduler, slurmState } from './slurm.js';

/** A runner that records calls and answers from a table. */
function fakeRunner(answers: Record<string, { code?: number; stdout?: string; stderr?: string }>) {
  const calls: { command: string; args: readonly string[]; input?: string; env?: unknown }[] = [];
  const exec: CommandRunner = async (command, args, options = {}) => {
    calls.push({ command, args, ...(options.input === undefined ? {} : { input: options.input }), env: options.env });
    const answer = answers[command] ?? { code: 127, stderr: `${command}: not found` };
    return { code: answer.code ?? 0, stdout: answer.stdout ?? '', stderr: answer.stderr ?? '' };
  };
  return { exec, calls };
}

describe('SLURM', () => {
  it('maps states, held pending jobs to held (signac-flow showed them as queued)', () => {
    expect(slurmState('PENDING', 'Resources')).toBe('queued');
    expect(slurmState('PENDING', 'Dependency')).toBe('queued');
    expect(slurmState('PENDING', 'JobHeldUser')).toBe('held');
    expect(slurmState('PENDING', 'JobHeldAdmin')).toBe('held');
    expect(slurmState('REQUEUE_HOLD', 'None')).toBe('held');
    expect(slurmState('RUNNING', 'None')).toBe('running');
    expect(slurmState('COMPLETING', 'None')).toBe('running');
    expect(slurmState('TIMEOUT', 'None')).toBe('failed');
    expect(slurmState('WHATEVER', 'None')).toBe('unknown');
  });

  it('parses squeue output', () => {
    const jobs = parseSqueue('12|PENDING|JobHeldUser|p.abc.ex\n13|RUNNING|None|p.def.op1\n\n');
    expect(jobs).toEqual([
      { id: '12', name: 'p.abc.ex', state: 'held', detail: 'PENDING (JobHeldUser)' },
      { id: '13', name: 'p.def.op1', state: 'running', detail: 'RUNNING (None)' },
    ]);
  });

  it('submits with sbatch --parsable on standard input, with the injected environment', async () => {
    const { exec, calls } = fakeRunner({ sbatch: { stdout: '4711;cluster\n' }, squeue: { stdout: '4711|PENDING|None|x' } });
    const slurm = new SlurmScheduler({ exec, env: { SLURM_CONF: '/c/slurm.conf' }, user: 'alice', commands: { sbatch: 'sbatch' } });
    expect(await slurm.submit('#!/bin/bash\n')).toBe('4711');
    expect(calls[0]).toEqual({ command: 'sbatch', args: ['--parsable'], input: '#!/bin/bash\n', env: { SLURM_CONF: '/c/slurm.conf' } });
    expect(await slurm.queue()).toHaveLength(1);
    expect(calls[1]?.args).toEqual(['-h', '-u', 'alice', '-o', '%i|%T|%r|%j']);
  });

  it('turns scheduler failures into SCHEDULER errors carrying their message', async () => {
    const { exec } = fakeRunner({ sbatch: { code: 1, stderr: 'sbatch: error: Invalid generic resource (gres) specification' } });
    const error = await new SlurmScheduler({ exec }).submit('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GroupsError);
    expect((error as GroupsError).code).toBe('SCHEDULER');
    expect((error as Error).message).toMatch(/sbatch failed \(exit 1\): sbatch: error: Invalid generic resource/);
    const garbled = fakeRunner({ sbatch: { stdout: 'hello' } });
    await expect(new SlurmScheduler({ exec: garbled.exec }).submit('x')).rejects.toThrow(/printed no job id/);
  });
});

describe('SLURM accounting', () => {
  it('adds finished jobs from sacct, else from the job completion log (sacct -c), else none; the queue wins', async () => {
    const calls: string[] = [];
    const exec =
      (accounting: boolean, completion: boolean): CommandRunner =>
      async (command, args) => {
        calls.push(`${command} ${args[0]}`);
        if (command === 'squeue') return { code: 0, stdout: '12|RUNNING|None|p.a.op\n', stderr: '' };
        const ok = args[0] === '-c' ? completion : accounting;
        const stdout = '10|p.b.op|COMPLETED\n10.batch|batch|COMPLETED\n11|p.c.op|CANCELLED by 0\n12|p.a.op|PENDING\n';
        return ok ? { code: 0, stdout, stderr: '' } : { code: 1, stdout: '', stderr: 'Slurm accounting storage is disabled' };
      };
    const slurm = new SlurmScheduler({ exec: exec(false, true), user: 'u' });
    expect((await slurm.queue()).map((job) => `${job.id}:${job.state}`)).toEqual(['10:completed', '11:cancelled', '12:running']);
    expect(calls).toEqual(['squeue -h', 'sacct -n', 'sacct -c']);
    calls.length = 0;
    await slurm.queue();
    // The mode that worked is remembered.
    expect(calls).toEqual(['squeue -h', 'sacct -c']);
    const none = new SlurmScheduler({ exec: exec(false, false), user: 'u' });
    expect((await none.queue()).map((job) => job.id)).toEqual(['12']);
    expect(parseSacct('7|x|FAILED\n')).toEqual([{ id: '7', name: 'x', state: 'failed', detail: 'FAILED' }]);
  });
});

describe('PBS', () => {
  it('parses qstat -f', () => {
    const output = `Job Id: 101.server
    Job_Name = p.abc.ex
    job_state = H
    queue = batch

Job Id: 102.server
    Job_Name = p.def.op1
    job_state = R
`;
    expect(parseQstat(output).map((job) => [job.id, job.name, job.state])).toEqual([
      ['101.server', 'p.abc.ex', 'held'],
      ['102.server', 'p.def.op1', 'running'],
    ]);
  });

  it('submits with qsub on standard input', async () => {
    const { exec, calls } = fakeRunner({ qsub: { stdout: '103.server\n' } });
    expect(await new PbsScheduler({ exec }).submit('script')).toBe('103.server');
    expect(calls[0]?.input).toBe('script');
  });
});

describe('LSF', () => {
  it('parses bjobs output and bsub’s answer', async () => {
    expect(parseBjobs('7|PSUSP|p.abc.ex\n8|PEND|p.def.op1\n9|RUN|p.x.op2\n').map((job) => job.state)).toEqual([
      'held',
      'queued',
      'running',
    ]);
    const { exec } = fakeRunner({ bsub: { stdout: 'Job <42> is submitted to queue <normal>.\n' } });
    expect(await new LsfScheduler({ exec }).submit('script')).toBe('42');
  });
});

describe('detectScheduler', () => {
  it('honours VF_SCHEDULER, else looks for sbatch, qsub, bsub on PATH', async () => {
    expect((await detectScheduler({}, { VF_SCHEDULER: 'lsf' }))?.name).toBe('lsf');
    const only =
      (command: string): CommandRunner =>
      async (c, args) => ({ code: c !== 'sh' || String(args[1]).endsWith(command) ? 0 : 1, stdout: '', stderr: '' });
    expect((await detectScheduler({ exec: only('qsub') }, {}))?.name).toBe('pbs');
    expect(await detectScheduler({ exec: only('nothing') }, {})).toBeUndefined();
  });

  it('skips a scheduler whose commands are installed but whose queue cannot be read (no cluster configured)', async () => {
    const { exec, calls } = fakeRunner({
      sh: {},
      squeue: { code: 1, stderr: 'squeue: fatal: Could not establish a configuration source' },
      qstat: { stdout: '' },
    });
    expect((await detectScheduler({ exec }, {}))?.name).toBe('pbs');
    expect(calls.map((call) => call.command)).toEqual(['sh', 'squeue', 'sh', 'qstat']);
  });
});

describe('runCommand', () => {
  it('collects output, passes input and environment', async () => {
    const result = await runCommand('sh', ['-c', 'cat; echo "$VF_X" >&2; exit 3'], { input: 'in', env: { VF_X: 'y' } });
    expect(result).toEqual({ code: 3, stdout: 'in', stderr: 'y\n' });
  });

  it('times out instead of hanging, and names a missing command', async () => {
    const started = Date.now();
    await expect(runCommand('sleep', ['10'], { timeoutMs: 200 })).rejects.toThrow(/did not finish within 200 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
    const missing = await runCommand('vf-no-such-command', []).catch((e: unknown) => e);
    expect((missing as GroupsError).code).toBe('COMMAND_NOT_FOUND');
  });
});
