import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow, readDeadLetters } from '@vf/core';
import { sshLauncher } from '@vf/core/engine';
import { findLeftovers } from '@vf/core/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { lines, waitFor } from './helpers.js';
import { type RemoteHost, startRemoteHost } from './remoteHost.js';

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

// A second machine: a network namespace with its own sshd (see remoteHost.ts); needs root.
describe.skipIf(process.getuid?.() !== 0)('onError on a task on another host (ssh launcher)', () => {
  let remote: RemoteHost | undefined;
  let skip: string | undefined;
  let dir: string;
  beforeAll(async () => {
    const started = await startRemoteHost();
    if (started.ok) remote = started.host;
    else skip = started.reason;
  }, 400_000);
  afterAll(async () => {
    await remote?.stop();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-onerror-remote-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the remote worker retries, stores its dead letters on its host (a shared folder here), and the flow goes on', {
    timeout: 90_000,
  }, async ({ skip: skipTest }) => {
    if (remote === undefined) return skipTest(skip);
    const params = {
      items: 500,
      workMs: 0,
      nbTasks: 1,
      pidFile: join(dir, 'pids'),
      out: join(dir, 'out.txt'),
      deadLetter: join(dir, 'dead'),
    };
    const flow = await Flow.load(deadLettersUrl, params);
    const ssh = { host: remote.remoteAddress, identityFile: remote.identityFile, sshOptions: remote.sshOptions };
    const engine = new BatchExecutionEngine({ host: remote.localAddress, placement: { worker: sshLauncher(ssh) } });
    await flow.run(engine);
    const report = await flow.join();
    expect(report.error).toBeUndefined();
    expect(report.status).toBe('completed');
    // The worker listened on the remote machine's address: it ran there.
    expect(engine.endpoints?.[1]).toMatch(new RegExp(`^tcp://${remote.remoteAddress.replaceAll('.', '\\.')}:\\d+$`));
    expect((await lines(params.out)).map(Number)).toEqual(
      Array.from({ length: 500 }, (_, value) => value).filter((value) => value % 100 !== 99),
    );
    const letters = await readDeadLetters(params.deadLetter);
    expect(letters.map((letter) => [letter.seq, letter.attempts, letter.inputs?.[0], letter.error.message])).toEqual(
      [99, 199, 299, 399, 499].map((seq) => [seq, 2, seq, `bad item ${seq}`]),
    );
    expect(report.nodes.find((node) => node.name === 'worker')).toMatchObject({ failed: 5, deadLettered: 5, retried: 5 });
    expect(report.edges).toContainEqual({ from: 'worker', to: 'sink', dropped: 0, failed: 5, deadLettered: 5 });
    expect(findLeftovers(engine)).toEqual([]);
  });
});
