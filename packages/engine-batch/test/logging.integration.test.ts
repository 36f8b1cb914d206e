import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runFixtureHost } from './helpers.js';

const chattyUrl = new URL('./flows/chatty.ts', import.meta.url);

/** Runs the fixture host on `flows/chatty.ts` with `env`; resolves with its exit code and output. */
const runHost = (dir: string, env: Record<string, string>) => runFixtureHost(chattyUrl, { out: join(dir, 'out.jsonl') }, dir, env);

describe('the framework log of a multi-process flow', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-logging-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('follows VF_LOG_LEVEL and VF_LOG_FORMAT in every process, tags task lines, warns once and prefixes task output', {
    timeout: 60_000,
  }, async () => {
    const { code, stdout, stderr } = await runHost(dir, { VF_LOG_LEVEL: 'debug', VF_LOG_FORMAT: 'json', VF_TASK_OUTPUT_PREFIX: '1' });
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ status: 'completed' });
    const lines = stderr.split('\n').filter((line) => line !== '');
    const records = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    // Task processes log at debug, as JSON, each line naming the run, the node and the replica.
    const started = records.filter((record) => record.msg === 'task process started');
    expect(started.map((record) => `${record.node}[${record.replica}]`).sort()).toEqual([
      'numbers[0]',
      'sink[0]',
      'talker[0]',
      'talker[1]',
    ]);
    const runs = new Set(started.map((record) => record.run));
    expect(runs.size).toBe(1);
    expect([...runs][0]).toMatch(/^[0-9a-f]{8}$/);
    expect(started.every((record) => record.level === 20 && record.name === 'vf')).toBe(true);
    // Both replicas warn: the host logs it once.
    expect(records.filter((record) => record.code === 'VF_TEST_CHATTY').map(({ level, msg }) => ({ level, msg }))).toEqual([
      { level: 40, msg: 'a talker opened' },
    ]);
    // A task's own output, led by its name.
    expect(lines.filter((line) => line.endsWith('talker opened') && !line.startsWith('{')).sort()).toEqual([
      'talker[0] | talker opened',
      'talker[1] | talker opened',
    ]);
  });

  it('logs nothing below the level asked for', { timeout: 60_000 }, async () => {
    const { code, stderr } = await runHost(dir, { VF_LOG_LEVEL: 'error', VF_LOG_FORMAT: 'json', VF_TASK_OUTPUT_PREFIX: '0' });
    expect(code, stderr).toBe(0);
    expect(stderr).not.toContain('VF_TEST_CHATTY');
    expect(stderr).not.toContain('task process started');
    // Without the prefix, a task's output reaches the host's stream as it was written.
    expect(stderr.split('\n').filter((line) => line === 'talker opened')).toHaveLength(2);
  });
});
