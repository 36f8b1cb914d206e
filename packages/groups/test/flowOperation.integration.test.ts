import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlowProject, flowOperation, post } from '../src/index.js';
import { collector } from './helpers.js';

const squares = new URL('./fixtures/flows/squares.ts', import.meta.url);

describe('a flow operation on the batch engine (one process per task)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'vf-groups-batch-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('runs within its np budget and is complete afterwards', { timeout: 60_000 }, async () => {
    const engines: BatchExecutionEngine[] = [];
    const project = new FlowProject({
      root,
      stdout: collector(),
      stderr: collector(),
      flowEngine: () => {
        const engine = new BatchExecutionEngine({ queueSize: 4 });
        engines.push(engine);
        return engine;
      },
    });
    project.operation(
      'squares',
      flowOperation(squares, (job) => ({ end: Number(job.sp.end), out: job.fn('squares.jsonl'), nbTasks: 2 })),
      { directives: { np: 4 }, post: [post.isFile('squares.jsonl')] },
    );
    const job = project.openJob({ end: 50 }).init();
    const result = await project.run();
    expect(result.executed).toHaveLength(1);
    const values = readFileSync(job.fn('squares.jsonl'), 'utf8').trim().split('\n').map(Number);
    expect(values).toEqual(Array.from({ length: 51 }, (_, i) => i * i));
    expect(await project.isComplete('squares', job)).toBe(true);
    expect(engines).toHaveLength(1);
  });
});
