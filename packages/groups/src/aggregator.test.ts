import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collector } from '../test/helpers.js';
import { aggregateId, aggregator } from './aggregator.js';
import { post } from './conditions.js';
import { everyJob, FlowProject } from './project.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vf-groups-aggregator-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function sixJobs() {
  const project = new FlowProject({ root, stdout: collector(), stderr: collector() });
  const jobs = [0, 1, 2, 3, 4, 5].map((n) => project.openJob({ n, temperature: n % 2 === 0 ? 300 : 400 }).init());
  return { project, jobs };
}

describe('aggregation', () => {
  it('runs an operation once per aggregate of 6 jobs grouped by a state point key, then never again', async () => {
    const { project, jobs } = sixJobs();
    const calls: number[][] = [];
    project.aggregateOperation(
      'mean',
      aggregator.groupby('temperature'),
      (members) => {
        calls.push(members.map((job) => Number(job.sp.n)));
        const mean = members.reduce((sum, job) => sum + Number(job.sp.n), 0) / members.length;
        for (const job of members) job.doc.set('mean_n', mean);
      },
      { post: [everyJob(post.hasKey('mean_n'))] },
    );
    const result = await project.run({ operations: ['mean'] });
    expect(calls.map((members) => members.sort())).toEqual([
      [0, 2, 4],
      [1, 3, 5],
    ]);
    expect(result.executed.map((record) => record.job)).toEqual(expect.arrayContaining([expect.stringMatching(/^agg-[0-9a-f]{32}$/)]));
    expect(jobs.map((job) => job.doc.get('mean_n'))).toEqual([2, 3, 2, 3, 2, 3]);
    const status = await project.status();
    expect(status.aggregates).toEqual([{ name: 'mean', aggregator: 'groupby(temperature)', aggregates: 2, eligible: 0, complete: 2 }]);
    expect((await project.run()).executed).toEqual([]);
    const stderr = collector();
    const submit = await project.main(['submit', '-o', 'mean', '--pretend'], { stdout: collector(), stderr, setExitCode: false });
    expect([submit, stderr.text]).toEqual([0, 'not submitted: mean (aggregate operations run with `run -o NAME`)\n']);
  });

  it('groupsof, all, groupby with several keys, a function, and a default for a missing key', () => {
    const { jobs } = sixJobs();
    const sizes = (groups: unknown[][]) => groups.map((group) => group.length);
    expect(sizes(aggregator.groupsof(4).aggregate(jobs))).toEqual([4, 2]);
    expect(sizes(aggregator.all().aggregate(jobs))).toEqual([6]);
    expect(sizes(aggregator.groupby(['temperature', 'n']).aggregate(jobs))).toEqual([1, 1, 1, 1, 1, 1]);
    expect(sizes(aggregator.groupby((job) => Number(job.sp.n) < 2).aggregate(jobs))).toEqual([4, 2]);
    expect(sizes(aggregator.groupby('pressure').aggregate(jobs))).toEqual([]);
    expect(sizes(aggregator.groupby('pressure', 1).aggregate(jobs))).toEqual([6]);
    expect(aggregateId(jobs.slice(0, 2))).toBe(aggregateId(jobs.slice(0, 2)));
    expect(aggregateId(jobs.slice(0, 2))).not.toBe(aggregateId(jobs.slice(1, 3)));
    expect(() => aggregator.groupsof(0)).toThrow(/positive integer/);
  });
});
