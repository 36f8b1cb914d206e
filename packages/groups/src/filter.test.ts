import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type JobFilter, jobMatcher, parseFilterArgs } from './filter.js';
import { Workspace } from './workspace.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vf-groups-filter-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('parseFilterArgs (signac’s -f syntax)', () => {
  it('reads key/value pairs, JSON values, regexes, existence, and one JSON object', () => {
    expect(parseFilterArgs(['a', '1', 'b', 'x', 'c', 'true', 'd', 'null'])).toEqual({ a: 1, b: 'x', c: true, d: null });
    expect(parseFilterArgs(['a', '{"$gt": 2}', 'name', '/^ab/'])).toEqual({ a: { $gt: 2 }, name: { $regex: '^ab' } });
    expect(parseFilterArgs(['a'])).toEqual({ a: { $exists: true } });
    expect(parseFilterArgs(['a', '!'])).toEqual({ a: { $exists: false } });
    expect(parseFilterArgs(['{"a": {"$in": [1, 2]}}'])).toEqual({ a: { $in: [1, 2] } });
    expect(() => parseFilterArgs(['{"a": '])).toThrow(/not JSON/);
  });
});

describe('jobMatcher', () => {
  it('selects jobs by state point with $gt/$lt/$in/$regex/$or, dotted keys, and by document', () => {
    const workspace = new Workspace(dir);
    for (let n = 0; n < 6; n++) workspace.openJob({ n, name: n % 2 === 0 ? 'even' : 'odd', nested: { k: n * 10 } }).init();
    workspace.jobs()[0]!.doc.set('score', 5);
    const select = (filter?: JobFilter, docFilter?: JobFilter) =>
      workspace
        .jobs()
        .filter(jobMatcher(filter, docFilter))
        .map((job) => job.sp.n)
        .sort();
    expect(select({ n: { $gt: 1, $lt: 4 } })).toEqual([2, 3]);
    expect(select({ n: { $in: [0, 5] } })).toEqual([0, 5]);
    expect(select({ name: 'odd', 'nested.k': { $gte: 30 } })).toEqual([3, 5]);
    expect(select({ name: { $regex: '^ev' } })).toEqual([0, 2, 4]);
    expect(select({ $or: [{ n: 1 }, { n: 2 }] })).toEqual([1, 2]);
    expect(select({ 'doc.score': { $exists: true } })).toHaveLength(1);
    expect(select(undefined, { score: 5 })).toEqual([workspace.jobs()[0]!.sp.n]);
    expect(select()).toHaveLength(6);
  });
});
