import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lines, runFixtureHost } from './helpers.js';

const warningsUrl = new URL('./flows/warnings.ts', import.meta.url);

/** Occurrences of `needle` in `text`. */
const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('process warnings of a multi-process flow', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-warnings-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are printed once, by the host, however many task processes emit them', { timeout: 60_000 }, async () => {
    const out = join(dir, 'out.jsonl');
    const { code: exitCode, stdout, stderr } = await runFixtureHost(warningsUrl, { out }, dir);
    expect(exitCode, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ status: 'completed' });
    expect((await lines(out)).at(-1)).toBe(String((20 * 21) / 2));
    // vf's own warning: the host and all 6 tasks build the one-task "sum" with nbTasks 4.
    expect(count(stderr, '[VF_NBTASKS_IGNORED]'), stderr).toBe(1);
    expect(stderr).toContain('processor "sum" is a one-task processor: nbTasks 4 is ignored');
    // A node's own warning, emitted only in the 3 task processes of "noisy".
    expect(count(stderr, '[VF_TEST_NOISY]'), stderr).toBe(1);
  });
});
