import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { stdioControlChannel } from './controlChannel.js';
import { readJsonLines } from './jsonLines.js';
import { shellQuote, stdioTaskProcess } from './launchers/stdioTaskProcess.js';

describe('the control channel over stdio (tasks on other machines)', () => {
  it('carries one JSON message per line both ways; a non-JSON line arrives as a string', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const channel = stdioControlChannel(input, output);
    const received: unknown[] = [];
    channel.onMessage((message) => received.push(message));
    input.write('{"v":1,"type":"start"}\n\nnot json\n');
    channel.send({ v: 1, type: 'started' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(received).toEqual([{ v: 1, type: 'start' }, 'not json']);
    expect(output.read()?.toString()).toBe('{"v":1,"type":"started"}\n');
  });

  it('reports the end of its input (the host is gone) once, and not after its own close', async () => {
    const input = new PassThrough();
    const channel = stdioControlChannel(input, new PassThrough());
    let closes = 0;
    channel.onClose(() => closes++);
    input.end();
    await new Promise((resolve) => setImmediate(resolve));
    expect(closes).toBe(1);

    const second = stdioControlChannel(new PassThrough(), new PassThrough());
    let secondCloses = 0;
    second.onClose(() => secondCloses++);
    second.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondCloses).toBe(0);
  });

  it('takes a host silent for hostSilenceMs as gone (a partition), while heartbeats (empty lines) keep it open', async () => {
    // The watchdog's clock is faked: on a busy machine a real 100 ms beat can arrive late enough to look like silence.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const input = new PassThrough();
    const channel = stdioControlChannel(input, new PassThrough(), 300);
    try {
      let closes = 0;
      channel.onClose(() => closes++);
      const tick = () => new Promise((resolve) => setImmediate(resolve));
      for (let beat = 0; beat < 8; beat++) {
        input.write('\n');
        await tick(); // the line is read
        vi.advanceTimersByTime(100);
      }
      expect(closes).toBe(0);
      vi.advanceTimersByTime(200); // silent for 300 ms since the last beat: not more than hostSilenceMs yet
      expect(closes).toBe(0);
      vi.advanceTimersByTime(1_000);
      expect(closes).toBe(1);
      input.end(); // the stream's own end afterwards is not a second close
      await tick();
      expect(closes).toBe(1);
    } finally {
      channel.close();
      vi.useRealTimers();
    }
  });

  it('the host side reads every message before it reports the exit', async () => {
    // A stand-in for ssh/srun: echoes each line back, then exits when stdin ends.
    const child = spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const task = stdioTaskProcess(child);
    const received: unknown[] = [];
    task.onMessage((message) => received.push(message));
    const exited = new Promise<number | null>((resolve) => task.onExit((code) => resolve(code)));
    expect(task.send({ v: 1, type: 'init', secret: 'only on stdin' })).toBe(true);
    child.stdin?.end();
    expect(await exited).toBe(0);
    expect(received).toEqual([{ v: 1, type: 'init', secret: 'only on stdin' }]);
    expect(task.send({ v: 1, type: 'stop' })).toBe(false);
  });

  it('quotes words for the remote shell', () => {
    expect(shellQuote('/usr/bin/node')).toBe('/usr/bin/node');
    expect(shellQuote('relay[0]')).toBe("'relay[0]'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('the control channel over pipes (tasks on this host)', () => {
  /** Starts `fixture` as `forkSpawner` starts a task: fds 3 (to it), 4 (heartbeats), 5 (from it). */
  function startTask(fixture: string, args: string[] = []) {
    const child = spawn(
      process.execPath,
      [
        '--import',
        createRequire(import.meta.url).resolve('tsx'),
        '--conditions=@vf/source',
        fileURLToPath(new URL(fixture, import.meta.url)),
        ...args,
      ],
      { env: { ...process.env, VF_CONTROL_FDS: '3,4,5' }, stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe', 'pipe'] },
    );
    const received: unknown[] = [];
    readJsonLines(child.stdio.at(5) as Readable, (message) => received.push(message));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { child, received, exited };
  }

  it('delivers every message sent before close(), also to a host that was not reading when the task closed', {
    timeout: 30_000,
  }, async () => {
    // Closing at once would drop writes still queued: a busy host lost the task's `done` and saw a
    // task that "exited with code 0 before finishing".
    const count = 2_000;
    const { received, exited } = startTask('./fixtures/floodThenClose.ts', [String(count)]);
    await vi.waitFor(() => expect(received.length).toBeGreaterThan(0), { timeout: 20_000, interval: 5 });
    // The host is busy (blocked) while the task sends everything and closes.
    const blockedUntil = Date.now() + 1_500;
    while (Date.now() < blockedUntil) {
      // busy
    }
    expect(await exited).toBe(0);
    await vi.waitFor(() => expect(received).toHaveLength(count + 1), { timeout: 5_000 });
    expect(received.at(-1)).toEqual({ type: 'done' });
  });

  it("takes the end of the host's pipe as the host gone, and keeps its setting from the task's own children", {
    timeout: 30_000,
  }, async () => {
    const { child, received, exited } = startTask('./fixtures/hostGone.ts');
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 20_000, interval: 5 });
    expect(received[0]).toEqual({ type: 'hello', controlFdsEnv: null });
    (child.stdio[3] as Writable).end();
    expect(await exited).toBe(7);
  });
});
