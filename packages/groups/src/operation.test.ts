import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collector } from '../test/helpers.js';
import { post } from './conditions.js';
import { commandOperation, expandCommand } from './operation.js';
import { FlowProject } from './project.js';
import { shellQuote } from './templates/renderScript.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vf-groups-operation-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('commandOperation', () => {
  it('runs a shell command template in the job folder, its output forwarded; a failing command fails the operation', async () => {
    const stdout = collector();
    const project = new FlowProject({ root, stdout, stderr: collector() });
    project.operation('echo', commandOperation("echo {sp.name} {sp.size.w} > out.txt && echo 'said it'"), {
      post: [post.isFile('out.txt')],
    });
    project.operation('fail', commandOperation('exit 3'));
    const job = project.openJob({ name: "it's me", size: { w: 2 } }).init();
    await project.run({ operations: ['echo'] });
    expect(readFileSync(job.fn('out.txt'), 'utf8')).toBe("it's me 2\n");
    expect(stdout.text).toContain('said it\n');
    await expect(project.run({ operations: ['fail'] })).rejects.toThrow(/"exit 3" exited with 3/);
  });

  it('quotes placeholders and refuses unknown ones', () => {
    const project = new FlowProject({ root });
    const job = project.openJob({ a: 'x y' });
    expect(expandCommand('run {id} {sp.a} {path}', job)).toBe(`run ${job.id} 'x y' ${shellQuote(job.path)}`);
    expect(() => expandCommand('run {job}', job)).toThrow(/unknown placeholder \{job\}/);
  });
});
