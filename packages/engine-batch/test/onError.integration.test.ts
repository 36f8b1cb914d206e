import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow, readDeadLetters } from '@vf/core';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { lines, waitFor } from './helpers.js';

const deadLettersUrl = new URL('./flows/deadLetters.ts', import.meta.url);

describe('onError with restartOnFailure: a dead-lettering replica SIGKILLed mid-run', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-onerror-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const items = 2_000;

  it('its dead letters survive, its items go to the survivors: every other item once, in order, each failure stored once', {
    timeout: 90_000,
  }, async () => {
    const params = {
      items,
      workMs: 2,
      nbTasks: 3,
      pidFile: join(dir, 'pids'),
      out: join(dir, 'out.txt'),
      deadLetter: join(dir, 'dead'),
    };
    const flow = await Flow.load(deadLettersUrl, params);
    const engine = new BatchExecutionEngine({ queueSize: 4, restartOnFailure: true });
    await flow.run(engine);
    // The victim: a replica that has already stored a dead letter (its pid is in its file's name;
    // a complete line, not just the file, which is created before the first line is written).
    const stored = async () => {
      const names = existsSync(params.deadLetter) ? readdirSync(params.deadLetter).filter((name) => name.endsWith('.jsonl')) : [];
      for (const name of names) if ((await lines(join(params.deadLetter, name))).length > 0) return name;
      return undefined;
    };
    await waitFor(async () => (await stored()) !== undefined, 'a replica to store a dead letter');
    const victim = Number(/\.(\d+)\.deadletters\.jsonl$/.exec((await stored()) as string)?.[1]);
    expect((await lines(params.pidFile)).map(Number)).toContain(victim);
    process.kill(victim, 'SIGKILL');
    const report = await flow.join();
    expect(report.error).toBeUndefined();
    expect(report.status).toBe('completed');
    expect(report.lostTasks).toEqual([{ node: 'worker', taskIndex: expect.any(Number), cause: expect.stringContaining('SIGKILL') }]);
    const expected = Array.from({ length: items }, (_, value) => value).filter((value) => value % 100 !== 99);
    expect((await lines(params.out)).map(Number)).toEqual(expected);
    const letters = await readDeadLetters(params.deadLetter);
    expect(letters.map((letter) => letter.seq)).toEqual(Array.from({ length: items / 100 }, (_, index) => index * 100 + 99));
    expect(letters.some((letter) => letter.pid === victim)).toBe(true);
    expect(letters.every((letter) => letter.inputs?.[0] === letter.seq && letter.attempts === 2)).toBe(true);
    // Counted by the tasks that finished: the victim's own counts died with it.
    const worker = report.nodes.find((node) => node.name === 'worker');
    expect(worker?.deadLettered).toBe(worker?.failed);
    expect(findLeftovers(engine)).toEqual([]);
  });
});
