import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessEngine } from '@vf/core';
import type { DeviceAllocator } from '@vf/core/engine';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collector } from '../test/helpers.js';
import { post } from './conditions.js';
import { GroupsError } from './errors.js';
import { budgetAllocator, flowBudget, GpuPool, runFlowWithBudget } from './flowBudget.js';
import { flowOperation } from './operation.js';
import { FlowProject } from './project.js';

const squares = new URL('../test/fixtures/flows/squares.ts', import.meta.url);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vf-groups-flow-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map(Number);

describe('flowBudget', () => {
  it('takes np and ngpu from the directives and the GPU ids from CUDA_VISIBLE_DEVICES', () => {
    expect(flowBudget({ np: 4, ngpu: 0 }, {})).toEqual({ np: 4, ngpu: 0, devices: [], gpuIds: [], cudaVisibleDevices: '', env: {} });
    expect(flowBudget({ np: 1, ngpu: 2 }, {})).toEqual({
      np: 1,
      ngpu: 2,
      devices: ['0', '1'],
      gpuIds: [0, 1],
      cudaVisibleDevices: '0,1',
      env: { CUDA_VISIBLE_DEVICES: '0,1' },
    });
    expect(flowBudget({ np: 1, ngpu: 2 }, { CUDA_VISIBLE_DEVICES: '3, 5,7' }).gpuIds).toEqual([3, 5]);
    expect(flowBudget({ np: 1, ngpu: 0 }, { CUDA_VISIBLE_DEVICES: '' }).env).toEqual({});
  });

  it('hands out GPU and MIG UUIDs like indices, in the child environment too', () => {
    const gpus = 'GPU-6c3b1a2e-1111-2222-3333-444455556666,GPU-7d4c2b3f-1111-2222-3333-444455556666';
    expect(flowBudget({ np: 1, ngpu: 2 }, { CUDA_VISIBLE_DEVICES: gpus })).toMatchObject({
      devices: gpus.split(','),
      gpuIds: [],
      cudaVisibleDevices: gpus,
      env: { CUDA_VISIBLE_DEVICES: gpus },
    });
    const mig = 'MIG-0b5c7f2a-aaaa-bbbb-cccc-ddddeeeeffff';
    expect(flowBudget({ np: 1, ngpu: 1 }, { CUDA_VISIBLE_DEVICES: `${mig},1` }).env).toEqual({ CUDA_VISIBLE_DEVICES: mig });
  });

  it('refuses (NO_GPU) a CUDA_VISIBLE_DEVICES naming fewer GPUs than ngpu, read as CUDA does (up to the first invalid token)', () => {
    for (const visible of ['2', '', '-1', '0,-1,1', '0,x,1']) {
      expect(() => flowBudget({ np: 1, ngpu: 2 }, { CUDA_VISIBLE_DEVICES: visible }), visible).toThrow(
        expect.objectContaining({ code: 'NO_GPU', message: expect.stringContaining('needs ngpu=2 GPU(s)') }),
      );
    }
  });
});

describe('GpuPool', () => {
  it('gives operations running at once disjoint GPUs, waits while too few are free, refuses more than there are', async () => {
    const pool = new GpuPool('0,1');
    const a = await pool.acquire(1, 'a');
    const b = await pool.acquire(1, 'b');
    expect([a.devices, b.devices]).toEqual([['0'], ['1']]);
    let c: { readonly devices: readonly string[] } | undefined;
    const waiting = pool.acquire(2, 'c').then((lease) => (c = lease));
    a.release();
    await Promise.resolve();
    expect(c).toBeUndefined();
    b.release();
    expect((await waiting).devices).toEqual(['0', '1']);
    await expect(pool.acquire(3, 'operation "d" on job 1')).rejects.toMatchObject({ code: 'NO_GPU' });
    const unset = new GpuPool(undefined);
    expect([(await unset.acquire(1, 'e')).devices, (await unset.acquire(2, 'f')).devices]).toEqual([['0'], ['1', '2']]);
  });
});

describe('flowBudget and flows', () => {
  it('refuses GPUs outside the budget before anything starts', async () => {
    const greedy: DeviceAllocator = {
      allocate: (nodes) =>
        nodes.map((node) => Array.from({ length: node.nbTasks }, (_, i) => ({ device: `gpu:${i + 3}` as const, env: {} }))),
    };
    const budget = flowBudget({ np: 8, ngpu: 1 }, { CUDA_VISIBLE_DEVICES: '3,4' });
    const planned = [
      { index: 0, name: 'n', kind: 'processor', parents: [], children: [], nbTasks: 2, deviceType: 'gpu', requiresGpu: false },
    ] as const;
    await expect(Promise.resolve(budgetAllocator(budget, greedy).allocate(planned as never))).rejects.toThrow(
      /GPU\(s\) 4, outside its budget of ngpu=1 \(GPUs \[3\]\)/,
    );
    const one = [{ ...planned[0], nbTasks: 1 }];
    expect(await budgetAllocator(budget, greedy).allocate(one as never)).toEqual([[{ device: 'gpu:3', env: {} }]]);
  });
});

describe('flows as operations', () => {
  it('runs a flow module within the budget', async () => {
    const out = join(dir, 'out.jsonl');
    const report = await runFlowWithBudget(squares, { end: 4, out, nbTasks: 2 }, flowBudget({ np: 4, ngpu: 0 }, {}));
    expect(report.status).toBe('completed');
    expect(lines(out)).toEqual([0, 1, 4, 9, 16]);
  });

  it('returns the failed report of a flow whose node fails in open(), as of any other failure', async () => {
    const openFails = new URL('../../core/src/testing/flows/openFails.ts', import.meta.url);
    const report = await runFlowWithBudget(
      openFails,
      { out: join(dir, 'out.jsonl'), closeLog: join(dir, 'close.log') },
      flowBudget({ np: 4, ngpu: 0 }, {}),
    );
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('loader');
  });

  it('rejects a flow with more tasks than np, naming the count, and starts nothing', async () => {
    const out = join(dir, 'out.jsonl');
    const error = await runFlowWithBudget(squares, { end: 4, out, nbTasks: 3 }, flowBudget({ np: 4, ngpu: 0 }, {}), {
      label: 'op "x"',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GroupsError);
    expect((error as GroupsError).code).toBe('BUDGET_EXCEEDED');
    expect((error as Error).message).toMatch(/op "x" needs 5 task processes but its directives allow np=4 \(numbers×1, square×3, sink×1\)/);
    expect(() => readFileSync(out)).toThrow();
  });

  it('gives a flow operation the np of the group it runs in, and the engine factory the budget', async () => {
    const budgets: number[] = [];
    const project = new FlowProject({
      root: dir,
      stdout: collector(),
      stderr: collector(),
      flowEngine: (budget) => {
        budgets.push(budget.np);
        return new InProcessEngine();
      },
    });
    const big = project.makeGroup('big');
    project.operation(
      'squares',
      flowOperation(squares, (job) => ({ end: 3, out: job.fn('out.jsonl'), nbTasks: 3 })),
      { directives: { np: 2 }, post: [post.isFile('out.jsonl')], groups: [big.with({ directives: { np: 5 } })] },
    );
    const job = project.openJob({ n: 1 }).init();
    // Alone, np=2 cannot hold 5 tasks: the run fails, naming the operation and the job.
    const error = await project.run({ operations: ['squares'] }).catch((e: unknown) => e);
    expect((error as GroupsError).code).toBe('OPERATION_FAILED');
    expect((error as Error).message).toMatch(new RegExp(`operation "squares" failed on job ${job.id}: .*needs 5 task processes .*np=2`));
    expect(job.isFile('out.jsonl')).toBe(false);
    // In group big, np=5 holds them.
    const result = await project.run({ operations: ['big'] });
    expect(result.executed.map((record) => record.group)).toEqual(['big']);
    expect(lines(job.fn('out.jsonl'))).toEqual([0, 1, 4, 9]);
    expect(budgets).toEqual([2, 5]);
  });
});
