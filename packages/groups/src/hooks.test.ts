import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collector } from '../test/helpers.js';
import { post } from './conditions.js';
import { FlowProject } from './project.js';
import type { Job } from './workspace.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vf-groups-hooks-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('hooks', () => {
  it('record provenance in the job document: start, success, exception, exit; the operation’s before the project’s', async () => {
    const order: string[] = [];
    const project = new FlowProject({
      root,
      stdout: collector(),
      stderr: collector(),
      hooks: {
        onStart: (operation, job) => job.doc.set(`${operation}_started`, true),
        onSuccess: (operation, job) => job.doc.set(`${operation}_succeeded`, true),
        onException: (operation, error, job) => job.doc.set(`${operation}_error`, (error as Error).message),
        onExit: (operation: string, job: Job) => {
          order.push(`project exit ${operation}`);
          job.doc.set(`${operation}_exited`, true);
        },
      },
    });
    project.operation('good', (job) => writeFileSync(job.fn('good.txt'), 'x'), {
      post: [post.isFile('good.txt')],
      hooks: { onExit: (operation) => void order.push(`operation exit ${operation}`) },
    });
    project.operation('bad', () => {
      throw new Error('kaput');
    });
    const job = project.openJob({ n: 1 }).init();
    await project.run({ operations: ['good'] });
    await expect(project.run({ operations: ['bad'] })).rejects.toThrow(/kaput/);
    expect(job.doc.data()).toEqual({
      good_started: true,
      good_succeeded: true,
      good_exited: true,
      bad_started: true,
      bad_error: 'kaput',
      bad_exited: true,
    });
    expect(order).toEqual(['operation exit good', 'project exit good', 'project exit bad']);
  });
});
