import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConditionContext, post } from './conditions.js';
import { Job } from './workspace.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vf-groups-conditions-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const context: ConditionContext = { isComplete: async () => false };

describe('post.docEquals', () => {
  it('compares as JSON values: key order does not matter, values do', async () => {
    const job = new Job(dir, { n: 1 });
    job.doc.set('cfg', { b: 2, a: { y: [1, 2], x: null } });
    expect(await post.docEquals('cfg', { a: { x: null, y: [1, 2] }, b: 2 })(job, context)).toBe(true);
    expect(await post.docEquals('cfg', { a: { x: null, y: [2, 1] }, b: 2 })(job, context)).toBe(false);
    expect(await post.docEquals('cfg', { a: { x: null, y: [1, 2] }, b: '2' })(job, context)).toBe(false);
    expect(await post.docEquals('missing', null)(job, context)).toBe(false);
  });
});
