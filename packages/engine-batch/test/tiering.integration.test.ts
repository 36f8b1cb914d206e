import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedDataVersionTag } from 'node:v8';
import { Flow, InProcessEngine } from '@vf/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';

// core's runtime/tiering.ts: with VF_EAGER_OPTIMIZATION=1, a task process makes V8 optimize its hot
// code sooner once its first item is through. V8's code-cache tag hashes its options, so it tells
// when they changed.
const flowUrl = new URL('./flows/tiering.ts', import.meta.url);

interface Tags {
  readonly open: number;
  readonly consumed: readonly number[];
}

describe("a task's V8 options with VF_EAGER_OPTIMIZATION=1: V8's defaults through start-up, optimizing sooner once its first item is through", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-tiering-'));
    process.env.VF_EAGER_OPTIMIZATION = '1';
  });
  afterEach(async () => {
    delete process.env.VF_EAGER_OPTIMIZATION;
    await rm(dir, { recursive: true, force: true });
  });
  const plainTag = () => Number(execFileSync(process.execPath, ['-p', "require('node:v8').cachedDataVersionTag()"], { encoding: 'utf8' }));

  const run = async (engine: BatchExecutionEngine | InProcessEngine): Promise<Tags> => {
    const out = join(dir, 'tags.json');
    const flow = await Flow.load(flowUrl, { out });
    await flow.run(engine);
    expect((await flow.join()).status).toBe('completed');
    return JSON.parse(readFileSync(out, 'utf8')) as Tags;
  };

  it('a task process opens under the options of a plain node, and changes them after its first item', { timeout: 60_000 }, async () => {
    const plain = plainTag();
    const tags = await run(new BatchExecutionEngine());
    expect(tags.consumed).toHaveLength(5);
    // Start-up ran under the flags Node's and the program's code caches were made with.
    expect(tags.open).toBe(plain);
    expect(tags.consumed[0]).toBe(plain);
    for (const tag of tags.consumed.slice(1)) expect(tag).not.toBe(plain);
  });

  it("without it (the default), a task keeps V8's options throughout", { timeout: 60_000 }, async () => {
    delete process.env.VF_EAGER_OPTIMIZATION;
    const plain = plainTag();
    const tags = await run(new BatchExecutionEngine());
    expect(tags).toEqual({ open: plain, consumed: [plain, plain, plain, plain, plain] });
  });

  it("leaves the user's own process alone (InProcessEngine)", { timeout: 60_000 }, async () => {
    const hostTag = cachedDataVersionTag();
    const tags = await run(new InProcessEngine());
    expect(tags).toEqual({ open: hostTag, consumed: [hostTag, hostTag, hostTag, hostTag, hostTag] });
    expect(cachedDataVersionTag()).toBe(hostTag);
  });
});
