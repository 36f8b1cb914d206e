import { spawn } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NATIVE_HELPER_PATH, type NativeHelper, nativeHelper } from '../nativeHelper.js';
import { CONTROL_PROTOCOL_VERSION, parseTaskMessage } from './controlProtocol.js';
import { HeartbeatThread, heartbeatPeriodMs, heartbeatsTo, LivenessWatch, NATIVE_HEARTBEATS_ENV, TaskActivity } from './liveness.js';

/** A clock the test moves by hand. */
function manualClock() {
  let now = 0;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('LivenessWatch (the host side)', () => {
  const timeout = 1_000;
  const period = heartbeatPeriodMs(timeout);

  /** Advances in heartbeat periods, checking after each as the engine's timer does; returns every verdict. */
  function run(watch: LivenessWatch<string>, clock: ReturnType<typeof manualClock>, ms: number, each?: () => void) {
    const verdicts: string[] = [];
    for (let elapsed = 0; elapsed < ms; elapsed += period) {
      clock.advance(period);
      each?.();
      verdicts.push(...watch.check().map(({ key, reason }) => `${key}: ${reason}`));
    }
    return verdicts;
  }

  it('judges a task silent for longer than the timeout, once, naming how long', () => {
    const clock = manualClock();
    const watch = new LivenessWatch<string>(timeout, clock);
    watch.heard('a', { stalledMs: 0, inNode: false });
    const verdicts = run(watch, clock, 3 * timeout);
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]).toMatch(/^a: nothing came from it for 1\d{3} ms$/);
  });

  it('keeps a task alive while its heartbeats come, busy or not', () => {
    const clock = manualClock();
    const watch = new LivenessWatch<string>(timeout, clock);
    let stalled = 0;
    watch.heard('a', { stalledMs: 0, inNode: false });
    const verdicts = run(watch, clock, 5 * timeout, () => {
      stalled += period;
      expect(watch.heard('a', { stalledMs: stalled, inNode: true })).toBeUndefined();
    });
    expect(verdicts).toEqual([]);
  });

  it('judges a task whose main thread is stuck outside node code for longer than the timeout', () => {
    const watch = new LivenessWatch<string>(timeout, manualClock());
    expect(watch.heard('a', { stalledMs: timeout, inNode: false })).toBeUndefined();
    expect(watch.heard('a', { stalledMs: timeout + 1, inNode: false })).toMatch(/stuck outside node code for 1001 ms/);
    expect(watch.heard('a', { stalledMs: 10 * timeout, inNode: true })).toBeUndefined();
  });

  it('never judges a task before its first heartbeat (a spawner that carries none), nor after forget()', () => {
    const clock = manualClock();
    const watch = new LivenessWatch<string>(timeout, clock);
    watch.heard('quiet'); // a control message, no heartbeat: not watched
    watch.heard('done', { stalledMs: 0, inNode: false });
    watch.forget('done');
    expect(run(watch, clock, 3 * timeout)).toEqual([]);
  });

  it('gives every task a fresh period when the host itself was blocked (what they sent is still unread)', () => {
    const clock = manualClock();
    const watch = new LivenessWatch<string>(timeout, clock);
    watch.heard('a', { stalledMs: 0, inNode: false });
    clock.advance(5 * timeout); // the host's event loop was blocked: no check ran meanwhile
    expect(watch.check()).toEqual([]);
    watch.heard('a', { stalledMs: 0, inNode: false }); // the backlog is read
    expect(run(watch, clock, timeout - period)).toEqual([]);
  });

  it('heartbeats every fifth of the timeout, between 20 ms and 2 s', () => {
    expect(heartbeatPeriodMs(100)).toBe(20);
    expect(heartbeatPeriodMs(1_500)).toBe(300);
    expect(heartbeatPeriodMs(60_000)).toBe(2_000);
  });
});

describe('TaskActivity (what the main thread shares)', () => {
  it('restarts the stall clock when node code returns, even with no event-loop tick since', async () => {
    // A stay in node code longer than the liveness timeout must not read as a stall outside it in
    // the moment between its end and the next tick (a busy node was once killed that way under load).
    const activity = new TaskActivity();
    const ticks = () => new Int32Array(activity.buffer)[0] as number;
    const before = ticks();
    await activity.runNodeCode(() => {
      const until = Date.now() + 20;
      while (Date.now() < until) {
        // busy, synchronously, with no tick
      }
    });
    expect(ticks()).toBeGreaterThan(before);
    expect(activity.inNode).toBe(false);
  });

  it('marks node code while a call runs, until its promise settles, and after a throw or a rejection no more', async () => {
    const activity = new TaskActivity();
    expect(activity.inNode).toBe(false);
    let during = false;
    // A result that is not a promise comes back as it is, and the mark is down at once.
    const result = activity.runNodeCode(() => {
      during = activity.inNode;
      return 7;
    });
    expect(result).toBe(7);
    expect(during).toBe(true);
    expect(activity.inNode).toBe(false);
    let release: () => void = () => undefined;
    const pending = activity.runNodeCode(() => new Promise<void>((resolve) => (release = resolve)));
    expect(pending).toBeInstanceOf(Promise);
    await Promise.resolve();
    expect(activity.inNode).toBe(true);
    release();
    await pending;
    expect(activity.inNode).toBe(false);
    expect(() =>
      activity.runNodeCode(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(activity.inNode).toBe(false);
    await expect(activity.runNodeCode(() => Promise.reject(new Error('later')))).rejects.toThrow('later');
    expect(activity.inNode).toBe(false);
  });
});

describe('HeartbeatThread (the task side)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-heartbeat-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes heartbeats while the main thread is blocked in node code, and carries whole lines in order', { timeout: 20_000 }, async () => {
    const file = join(dir, 'out');
    const fd = openSync(file, 'a');
    const thread = new HeartbeatThread(fd, true);
    try {
      const activity = new TaskActivity();
      thread.writeLine('{"first":true}\n');
      await thread.startHeartbeats(20, activity);
      // Block the main thread, inside node code, until the thread has written several heartbeats.
      await activity.runNodeCode(() => {
        const deadline = Date.now() + 10_000;
        while (beats(file).length < 6 && Date.now() < deadline);
      });
      thread.writeLine(`${JSON.stringify({ big: 'x'.repeat(100_000) })}\n`);
      thread.close();
      // The end of the big line, not its start: the thread may write it in several chunks (a wait
      // for its start read half of it once, under a loaded full suite).
      await waitUntil(() => readFileSync(file, 'utf8').includes('xxxx"}\n'));
    } finally {
      closeSync(fd);
    }
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(JSON.parse(lines[0] as string)).toEqual({ first: true });
    const heartbeats = beats(file);
    expect(heartbeats.length).toBeGreaterThanOrEqual(6);
    // While blocked: the main loop stalled, inside node code.
    const blocked = heartbeats.filter((beat) => beat.inNode);
    expect(blocked.length).toBeGreaterThan(0);
    expect(Math.max(...blocked.map((beat) => beat.stalledMs))).toBeGreaterThan(40);
    // Every line is whole: a JSON value (the big one too).
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe("heartbeatsTo (a forked task's heartbeat pipe)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-heartbeat-'));
  });
  afterEach(async () => {
    delete process.env[NATIVE_HEARTBEATS_ENV];
    await rm(dir, { recursive: true, force: true });
  });

  it('is native where the helper was built (CI builds it), a worker thread with VF_NATIVE_HEARTBEATS=0', () => {
    expect(nativeHelper()).not.toBeNull();
    expect(heartbeatsTo(99)).not.toBeInstanceOf(HeartbeatThread);
    process.env[NATIVE_HEARTBEATS_ENV] = '0';
    const thread = heartbeatsTo(99);
    expect(thread).toBeInstanceOf(HeartbeatThread);
    thread.close();
  });

  it('is a worker thread where the helper was built from the source of another protocol version (not rebuilt since)', () => {
    const helper = nativeHelper() as NativeHelper;
    expect(helper.heartbeatProtocol).toBe(CONTROL_PROTOCOL_VERSION);
    for (const heartbeatProtocol of [undefined, CONTROL_PROTOCOL_VERSION - 1]) {
      const thread = heartbeatsTo(99, { ...helper, heartbeatProtocol });
      expect(thread).toBeInstanceOf(HeartbeatThread);
      thread.close();
    }
  });

  for (const kind of ['native', 'worker thread'] as const) {
    it(`${kind}: the first heartbeat is out when start resolves; they go on while the main thread is blocked in node code, and stop after close`, {
      timeout: 20_000,
    }, async () => {
      if (kind === 'worker thread') process.env[NATIVE_HEARTBEATS_ENV] = '0';
      const file = join(dir, 'out');
      const fd = openSync(file, 'a');
      const heartbeats = heartbeatsTo(fd);
      const activity = new TaskActivity();
      try {
        await heartbeats.startHeartbeats(20, activity);
        expect(beats(file).length).toBeGreaterThanOrEqual(1);
        await activity.runNodeCode(() => {
          const deadline = Date.now() + 10_000;
          while (beats(file).length < 6 && Date.now() < deadline);
        });
        heartbeats.close();
        activity.stopTicking();
        // Give a beat in flight time to land, then none may follow.
        await new Promise((resolve) => setTimeout(resolve, 100));
        const settled = beats(file).length;
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(beats(file).length).toBe(settled);
      } finally {
        closeSync(fd);
      }
      const blocked = beats(file).filter((beat) => beat.inNode);
      expect(blocked.length).toBeGreaterThan(0);
      expect(Math.max(...blocked.map((beat) => beat.stalledMs))).toBeGreaterThan(40);
    });

    it(`${kind}: says nothing when the host's end is gone (an orphan whose host was killed as it started)`, async () => {
      if (kind === 'worker thread') process.env[NATIVE_HEARTBEATS_ENV] = '0';
      const pipe = join(dir, 'heartbeats');
      (nativeHelper() as NativeHelper).makeFifo(pipe);
      const hostEnd = openSync(pipe, constants.O_RDONLY | constants.O_NONBLOCK);
      const fd = openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK);
      closeSync(hostEnd);
      const said = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const heartbeats = heartbeatsTo(fd);
      const activity = new TaskActivity();
      try {
        await heartbeats.startHeartbeats(20, activity);
        expect(said.mock.calls.map(([text]) => String(text))).toEqual([]);
      } finally {
        said.mockRestore();
        heartbeats.close();
        activity.stopTicking();
        closeSync(fd);
      }
    });
  }
});

describe('native heartbeats whose host is gone before the first one', () => {
  it('end a task stuck in synchronous code a few seconds later, as when the host goes at any other time', { timeout: 30_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vf-heartbeat-'));
    const pipe = join(dir, 'heartbeats');
    (nativeHelper() as NativeHelper).makeFifo(pipe);
    const hostEnd = openSync(pipe, constants.O_RDONLY | constants.O_NONBLOCK);
    const taskEnd = openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK);
    closeSync(hostEnd);
    // A task whose host was killed as it started, and whose node code never returns.
    const stuck = [
      'const helper = { exports: {} };',
      `process.dlopen(helper, ${JSON.stringify(NATIVE_HELPER_PATH)});`,
      'helper.exports.startHeartbeats(3, 20, new Int32Array(new SharedArrayBuffer(8)));',
      "process.stdout.write('started\\n');",
      'for (;;);',
    ].join('\n');
    const task = spawn(process.execPath, ['-e', stuck], { stdio: ['ignore', 'pipe', 'pipe', taskEnd] });
    const killedAfter = new Promise<number>((resolve) => {
      const started = Date.now();
      task.once('exit', (_code, signal) => resolve(signal === 'SIGKILL' ? Date.now() - started : -1));
    });
    let said = '';
    task.stdout?.on('data', (chunk) => {
      said += String(chunk);
    });
    task.stderr?.on('data', (chunk) => {
      said += String(chunk);
    });
    const bound = setTimeout(() => task.kill('SIGKILL'), 20_000);
    try {
      const ms = await killedAfter;
      expect(said).toBe('started\n');
      expect(ms).toBeGreaterThan(4_000);
      expect(ms).toBeLessThan(20_000);
    } finally {
      clearTimeout(bound);
      closeSync(taskEnd);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function beats(file: string): Array<{ stalledMs: number; inNode: boolean }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"heartbeat"'))
    .map((line) => parseTaskMessage(JSON.parse(line)) as { stalledMs: number; inNode: boolean });
}

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
