import { describe, expect, it } from 'vitest';
import {
  combineDirectives,
  type Directives,
  parallelDirectives,
  parseMemory,
  type ResolvedDirectives,
  resolveDirectives,
  serialDirectives,
} from './directives.js';
import { DirectiveError } from './errors.js';
import { Job } from './workspace.js';

const resolve = (directives: Directives, job?: Job) =>
  resolveDirectives(directives, { defaultExecutable: 'default-node', ...(job === undefined ? {} : { job }) });

// signac-flow's tests/test_directives.py: the two non-default directive sets and the expected
// results of combining them serially (a group's operations) and in parallel (a --parallel bundle).
const A: Directives = {
  np: 1,
  ngpu: 10,
  nranks: 5,
  omp_num_threads: 20,
  executable: 'Non Default Path',
  walltime: 64.0,
  processor_fraction: 0.5,
  memory: 32,
};
const B: Directives = {
  np: 4,
  ngpu: 1,
  nranks: 0,
  omp_num_threads: 10,
  executable: 'PathFinder',
  walltime: 20.0,
  processor_fraction: 0.5,
  memory: 16,
};

const numbers = (d: ResolvedDirectives) => ({
  np: d.np,
  ngpu: d.ngpu,
  nranks: d.nranks,
  omp_num_threads: d.omp_num_threads,
  executable: d.executable,
  walltime: d.walltime,
  processor_fraction: d.processor_fraction,
  memory: d.memory,
});

describe('directives', () => {
  it('fills the defaults', () => {
    const d = resolve({});
    expect(numbers(d)).toEqual({
      np: 1,
      ngpu: 0,
      nranks: 0,
      omp_num_threads: 0,
      executable: 'default-node',
      walltime: undefined,
      processor_fraction: 1,
      memory: undefined,
    });
    expect(d.fork).toBe(false);
  });

  it('makes np nranks × omp_num_threads when np is left at 1', () => {
    expect(resolve(A).np).toBe(100);
    expect(resolve({ nranks: 3 }).np).toBe(3);
    expect(resolve({ omp_num_threads: 4 }).np).toBe(4);
    expect(resolve({ np: 2, nranks: 3, omp_num_threads: 4 }).np).toBe(2);
    expect(resolve(B).np).toBe(4);
  });

  it('combines serially with signac-flow’s test values: serial(A, B)', () => {
    expect(numbers(serialDirectives(resolve(A), resolve(B)))).toEqual({
      np: 100,
      ngpu: 10,
      nranks: 5,
      omp_num_threads: 20,
      executable: 'Non Default Path',
      walltime: 84,
      processor_fraction: 0.5,
      memory: 32,
    });
  });

  it('combines in parallel with signac-flow’s test values: parallel(A, B)', () => {
    expect(numbers(parallelDirectives(resolve(A), resolve(B)))).toEqual({
      np: 104,
      ngpu: 11,
      nranks: 5,
      omp_num_threads: 30,
      executable: 'Non Default Path',
      walltime: 64,
      processor_fraction: 0.5,
      memory: 48,
    });
  });

  it('combines single directives like signac-flow’s _serial / _parallel (4 and 2)', () => {
    const four = resolve({ np: 4, ngpu: 4, nranks: 4, omp_num_threads: 4, walltime: 4, memory: 4, processor_fraction: 0.4 });
    const two = resolve({ np: 2, ngpu: 2, nranks: 2, omp_num_threads: 2, walltime: 2, memory: 2, processor_fraction: 0.2 });
    const serial = serialDirectives(four, two);
    expect([
      serial.np,
      serial.ngpu,
      serial.nranks,
      serial.omp_num_threads,
      serial.walltime,
      serial.memory,
      serial.processor_fraction,
    ]).toEqual([4, 4, 4, 4, 6, 4, 0.4]);
    const parallel = parallelDirectives(four, two);
    expect([parallel.np, parallel.ngpu, parallel.nranks, parallel.omp_num_threads, parallel.walltime, parallel.memory]).toEqual([
      6, 6, 6, 6, 4, 6,
    ]);
  });

  it('keeps walltime and memory undefined unless some operation asks, and forks if any forks', () => {
    const combined = combineDirectives([resolve({}), resolve({ walltime: 2, fork: true }), resolve({ memory: '1g' })], 'serial');
    expect(combined.walltime).toBe(2);
    expect(combined.memory).toBe(1);
    expect(combined.fork).toBe(true);
    expect(combineDirectives([resolve({})], 'serial').walltime).toBeUndefined();
    expect(() => combineDirectives([], 'serial')).toThrow(DirectiveError);
  });

  it('parses memory: numbers are GB, strings carry a unit', () => {
    expect(parseMemory(4)).toBe(4);
    expect(parseMemory('4g')).toBe(4);
    expect(parseMemory('4GB')).toBe(4);
    expect(parseMemory('512m')).toBe(0.5);
    expect(parseMemory('1t')).toBe(1024);
    expect(parseMemory('1048576k')).toBe(1);
  });

  // signac-flow's invalid values per directive, and a few of ours.
  const invalid: Record<string, unknown[]> = {
    np: [-1, 0, 'foo', {}, null, 1.5],
    ngpu: [-1, 'foo', {}, null, 0.5],
    nranks: [-1, 'foo', {}, null],
    omp_num_threads: [-1, 'foo', {}, null],
    walltime: [-1, 0, 'foo', {}, null],
    memory: [-1, 0, 'foo', {}, null, '4x', 'g'],
    processor_fraction: [-0.5, 0, 2.5, 'foo', {}, null],
    executable: ['', 3, null],
    fork: ['yes', 1, null],
  };
  for (const [name, values] of Object.entries(invalid)) {
    it(`rejects invalid ${name} values with a DirectiveError naming it`, () => {
      for (const value of values) {
        let caught: unknown;
        try {
          resolveDirectives({ [name]: value }, { defaultExecutable: 'node', operation: 'op1', group: 'ex' });
        } catch (error) {
          caught = error;
        }
        expect(caught, `${name}=${JSON.stringify(value)}`).toBeInstanceOf(DirectiveError);
        expect((caught as DirectiveError).code).toBe('INVALID_DIRECTIVE');
        expect((caught as DirectiveError).directive).toBe(name);
        expect((caught as Error).message).toContain(`operation "op1" in group "ex"`);
      }
    });
  }

  it('keeps user directives and evaluates functions of the job', () => {
    const job = new Job('/tmp/ws', { n: 3 });
    const d = resolve({ np: (j: Job) => Number(j.sp.n) * 2, account: 'abc', gpu_type: (j: Job) => `t${String(j.sp.n)}` }, job);
    expect(d.np).toBe(6);
    expect(d.user).toEqual({ account: 'abc', gpu_type: 't3' });
    expect(() => resolve({ np: () => 0 }, job)).toThrow(/np=0/);
    expect(() => resolve({ np: () => 2 })).toThrow(/needs a job/);
    expect(() =>
      resolve(
        {
          np: () => {
            throw new Error('boom');
          },
        },
        job,
      ),
    ).toThrow(/threw for job .*boom/);
  });
});
