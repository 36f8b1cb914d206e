import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ConsumerNode, Flow, InProcessEngine, isVfError } from '@vf/core';
import { captureLogs } from '@vf/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertFileExists,
  ImageFolderReader,
  probeVideo,
  runningFfmpegCount,
  VideoEncoder,
  VideoErrorCode,
  VideoFileReader,
  type VideoFrame,
  VideoStreamReader,
} from '../src/index.js';
import { ffmpegOutput } from './support/ffmpeg.js';
import { redOf, solidFrame, writePng } from './support/frames.js';
import { processesWith, waitFor } from './support/processes.js';

const FPS = 10;
const dir = mkdtempSync(join(tmpdir(), 'vf-vision-readers-'));
const clip = join(dir, 'clip.mp4');
const CLIP_FRAMES = 8;

beforeAll(async () => {
  const encoder = VideoEncoder.start(clip, { width: 64, height: 48, fps: FPS, crf: 10 });
  for (let index = 0; index < CLIP_FRAMES; index++) await encoder.write(solidFrame(index, FPS).data);
  await encoder.finish();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect<T>(iterable: AsyncIterable<T>, limit = Number.POSITIVE_INFINITY): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (items.length >= limit) break;
  }
  return items;
}

const context = { signal: new AbortController().signal, taskIndex: 0 };

describe('VideoFileReader', () => {
  it('emits RGB frames with their index and timestamp (index / fps)', async () => {
    const reader = new VideoFileReader({ name: 'video', path: clip });
    await reader.open();
    const frames = await collect(reader.produce(context));
    await reader.close();
    expect(frames.map((frame) => [frame.index, frame.timestampMs, frame.channels])).toEqual(
      Array.from({ length: CLIP_FRAMES }, (_, index) => [index, index * 100, 3]),
    );
    expect(frames.map((frame) => Math.round(redOf(frame) / 10))).toEqual(Array.from({ length: CLIP_FRAMES }, (_, index) => index));
  });

  it('reads a rotated video (a portrait phone clip) upright, at its displayed size, as ffmpeg decodes it', async () => {
    // testsrc is 64×48; the rotate tag asks players to show it turned a quarter, i.e. 48×64.
    const stored = join(dir, 'landscape.mp4');
    const rotated = join(dir, 'rotated.mp4');
    await ffmpegOutput(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=0.5', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', stored]);
    await ffmpegOutput(['-i', stored, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rotated]);
    const info = await probeVideo(rotated);
    expect(info).toMatchObject({ width: 48, height: 64 });
    expect([90, 270]).toContain(info.rotation);
    const reader = new VideoFileReader({ name: 'video', path: rotated });
    await reader.open();
    const frames = await collect(reader.produce(context));
    await reader.close();
    const expected = await ffmpegOutput(['-i', rotated, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
    expect(frames).toHaveLength(5);
    expect(frames.map((frame) => [frame.width, frame.height])).toEqual(Array.from({ length: 5 }, () => [48, 64]));
    expect(Buffer.concat(frames.map((frame) => frame.data)).equals(expected)).toBe(true);
  });

  it('reads a variable-frame-rate video as its own frames, each once, timestamps within its duration', async () => {
    // One second at 30 fps, then two at 5 fps: ffmpeg's default constant-rate output repeats the slow frames at 30 fps.
    const vfr = join(dir, 'vfr.mp4');
    await ffmpegOutput([
      ...['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=30:duration=1', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5:duration=2'],
      ...['-filter_complex', '[0][1]concat=n=2:v=1', '-vsync', 'vfr', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', vfr],
    ]);
    const counted = await probeVideo(vfr, { countFrames: true });
    expect(counted.frames).toBeGreaterThan(30);
    const reader = new VideoFileReader({ name: 'video', path: vfr });
    await reader.open();
    const frames = await collect(reader.produce(context));
    await reader.close();
    expect(frames).toHaveLength(counted.frames);
    const timestamps = frames.map((frame) => frame.timestampMs);
    expect(timestamps).toEqual([...timestamps].sort((a, b) => a - b));
    expect(Math.max(...timestamps)).toBeLessThanOrEqual(counted.durationS * 1000);
  });
  it('a video cut short gives the frames ffmpeg decodes, then a VIDEO_DAMAGED warning naming the file and the count', async () => {
    // The index first (faststart), as a file still being copied or downloaded has it: ffmpeg then
    // decodes the frames that are there, complains, and exits 0.
    const whole = join(dir, 'whole.mp4');
    const cut = join(dir, 'cut.mp4');
    await ffmpegOutput([
      ...['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25:duration=4'],
      ...['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', whole],
    ]);
    writeFileSync(cut, readFileSync(whole).subarray(0, Math.floor(statSync(whole).size * 0.6)));
    const logs = captureLogs('warn');
    let frames: VideoFrame[];
    try {
      const reader = new VideoFileReader({ name: 'video', path: cut });
      await reader.open();
      frames = await collect(reader.produce(context));
      await reader.close();
    } finally {
      logs.stop();
    }
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.length).toBeLessThan(100);
    const warnings = logs.records.filter((record) => record.code === 'VIDEO_DAMAGED');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain(cut);
    expect(warnings[0]?.msg).toContain(`decoded ${frames.length} frames of the 100 it lists`);
    // A whole file is read without one.
    const quiet = captureLogs('warn');
    try {
      const reader = new VideoFileReader({ name: 'video', path: whole });
      await reader.open();
      expect(await collect(reader.produce(context))).toHaveLength(100);
      await reader.close();
    } finally {
      quiet.stop();
    }
    expect(quiet.records).toEqual([]);
  });
});

describe('ImageFolderReader', () => {
  it('reads the PNGs of a folder in natural name order, skipping other files', async () => {
    const folder = join(dir, 'images');
    mkdirSync(folder);
    // Written as PNG by ffmpeg from solid frames: frame10 must come after frame2.
    for (const index of [1, 2, 10]) await writePng(join(folder, `frame${index}.png`), solidFrame(index, 1));
    writeFileSync(join(folder, 'notes.txt'), 'not an image');
    const reader = new ImageFolderReader({ name: 'images', path: folder, fps: 5 });
    reader.open();
    const frames = await collect(reader.produce(context));
    await reader.close();
    expect(reader.files.map((file) => file.slice(folder.length + 1))).toEqual(['frame1.png', 'frame2.png', 'frame10.png']);
    expect(frames.map((frame) => [frame.index, frame.timestampMs, frame.width, frame.height])).toEqual([
      [0, 0, 64, 48],
      [1, 200, 64, 48],
      [2, 400, 64, 48],
    ]);
    expect(frames.map(redOf)).toEqual([10, 20, 100]);
  });

  it('a missing folder or one without images fails in open() with a coded error naming it', () => {
    const missing = join(dir, 'nowhere');
    expect(() => new ImageFolderReader({ path: missing }).open()).toThrow(expect.objectContaining({ code: VideoErrorCode.NotFound }));
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(() => new ImageFolderReader({ path: empty }).open()).toThrow(expect.objectContaining({ code: VideoErrorCode.ImageUnreadable }));
    // A path of the wrong kind says so, not that it is missing.
    const file = join(dir, 'not-a-folder.png');
    writeFileSync(file, 'x');
    expect(() => new ImageFolderReader({ path: file }).open()).toThrow(/is not a folder/);
    expect(() => assertFileExists(empty)).toThrow(
      expect.objectContaining({ code: VideoErrorCode.NotFound, message: expect.stringMatching(/is not a file/) }),
    );
  });
});

describe('VideoStreamReader over HTTP', () => {
  /** A server on port 0 that serves the clip; it can go away and come back on the same port. */
  class ClipServer {
    server: Server | undefined;
    port = 0;
    requests = 0;

    async start(): Promise<void> {
      this.server = createServer((_request, response) => {
        this.requests += 1;
        response.writeHead(200, { 'content-type': 'video/mp4', 'content-length': statSync(clip).size });
        createReadStream(clip).pipe(response);
      });
      this.server.listen(this.port, '127.0.0.1');
      await once(this.server, 'listening');
      this.port = (this.server.address() as AddressInfo).port;
    }

    async stop(): Promise<void> {
      const server = this.server;
      this.server = undefined;
      if (server === undefined) return;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it('reads the stream, and when the server disappears retries maxRetries times, then fails with STREAM_UNAVAILABLE', async () => {
    const server = new ClipServer();
    await server.start();
    const attempts: number[] = [];
    const reader = new VideoStreamReader({
      name: 'camera',
      source: `http://127.0.0.1:${server.port}/clip.mp4`,
      maxRetries: 2,
      retryDelayMs: 50,
      onReconnect: (attempt) => {
        attempts.push(attempt);
        // After the first connection has delivered the clip, the server goes away for good.
        if (attempt === 1) void server.stop();
      },
    });
    const frames: VideoFrame[] = [];
    let failure: unknown;
    try {
      for await (const frame of reader.produce(context)) frames.push(frame);
    } catch (error) {
      failure = error;
    } finally {
      await reader.close();
      await server.stop();
    }
    expect(frames.map((frame) => frame.index)).toEqual(Array.from({ length: CLIP_FRAMES }, (_, index) => index));
    expect(isVfError(failure)).toBe(true);
    expect(failure).toMatchObject({ code: VideoErrorCode.StreamUnavailable });
    expect((failure as Error).message).toMatch(
      /camera: stream http:\/\/127\.0\.0\.1:\d+\/clip\.mp4 is unavailable after 2 reconnection attempts/,
    );
    expect(attempts).toEqual([1, 2]);
    expect(runningFfmpegCount()).toBe(0);
  });

  it('reconnects when the server comes back, indices going on', async () => {
    const server = new ClipServer();
    await server.start();
    let outage = false;
    const reader = new VideoStreamReader({
      name: 'camera',
      source: `http://127.0.0.1:${server.port}/clip.mp4`,
      maxFrames: 2 * CLIP_FRAMES,
      maxRetries: 20,
      retryDelayMs: 50,
      onReconnect: (attempt) => {
        if (!outage && attempt === 1) {
          // Down after the first clip; back after the second failed attempt.
          outage = true;
          void server.stop();
        } else if (outage && attempt === 3 && server.server === undefined) void server.start();
      },
    });
    let frames: VideoFrame[];
    try {
      frames = await collect(reader.produce(context));
    } finally {
      await reader.close();
      await server.stop();
    }
    expect(frames.map((frame) => frame.index)).toEqual(Array.from({ length: 2 * CLIP_FRAMES }, (_, index) => index));
    expect(server.requests).toBeGreaterThanOrEqual(2);
    const timestamps = frames.map((frame) => frame.timestampMs);
    expect(timestamps).toEqual([...timestamps].sort((a, b) => a - b));
    expect(runningFfmpegCount()).toBe(0);
  });
});

describe('VideoStreamReader stopping and stalls', () => {
  /** A flow's sink that drops what it gets. */
  class Discard extends ConsumerNode<[VideoFrame]> {
    consume(): void {}
  }

  /** `promise`, or a rejection once `ms` have passed without it settling. */
  async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
    });
    return Promise.race([promise, overdue]).finally(() => clearTimeout(timer));
  }

  /**
   * A named pipe that nobody writes, in its own temp folder: opening it blocks ffprobe and ffmpeg
   * forever, like a camera that never answers. `dispose` kills whatever still has it on its command
   * line until `ended` has settled (bounded), so a failing test leaves no process behind, then
   * removes the folder.
   */
  function silentFifo(): { path: string; dispose: (ended?: Promise<unknown>) => Promise<void> } {
    const folder = mkdtempSync(join(tmpdir(), 'vf-vision-fifo-'));
    const path = join(folder, 'silent.fifo');
    execFileSync('mkfifo', [path]);
    const killLeftovers = () => {
      for (const line of processesWith(path)) {
        try {
          process.kill(Number.parseInt(line.trim(), 10), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    };
    return {
      path,
      dispose: async (ended) => {
        let settled = ended === undefined;
        void ended?.then(
          () => {
            settled = true;
          },
          () => {
            settled = true;
          },
        );
        await waitFor(() => {
          killLeftovers();
          return settled;
        }, 30_000);
        killLeftovers();
        rmSync(folder, { recursive: true, force: true });
      },
    };
  }

  it.each([
    { waiting: 'probing it with ffprobe', tool: 'ffprobe', size: {} },
    { waiting: 'opening it with ffmpeg (size given)', tool: 'ffmpeg', size: { width: 64, height: 48 } },
  ])('flow.stop() while $waiting on a silent source ends the flow stopped at once, the child killed', async ({ tool, size }) => {
    const fifo = silentFifo();
    const reader = new VideoStreamReader({
      name: 'cam',
      source: fifo.path,
      maxRetries: 2,
      retryDelayMs: 100,
      stallTimeoutMs: 1500,
      ...size,
    });
    const flow = new Flow([reader], [new Discard({ name: 'sink' }).from(reader)]);
    let ended: Promise<unknown> | undefined;
    try {
      await flow.run(new InProcessEngine(), { handleSigint: false });
      ended = flow.join();
      expect(await waitFor(() => processesWith(fifo.path).some((line) => line.includes(tool)), 10_000)).toBe(true);
      // Counted among the children that the exit hook kills should the process end first.
      expect.soft(runningFfmpegCount()).toBe(1);
      const stoppedAt = performance.now();
      flow.stop();
      // Before, join() came after the 20 s probe timeout (and the engine's 30 s stop timeout), or the
      // reader went on reconnecting until the flow failed with STREAM_UNAVAILABLE.
      const report = await within(ended, 15_000, 'join()');
      expect(report).toMatchObject({ status: 'stopped' });
      // ffmpeg blocked opening the fifo ignores SIGTERM: the kill comes after stopProcess's 1 s grace.
      expect(performance.now() - stoppedAt).toBeLessThan(3_000);
      expect(processesWith(fifo.path)).toEqual([]);
      expect(runningFfmpegCount()).toBe(0);
    } finally {
      await fifo.dispose(ended);
    }
  });

  it('close() while it probes a silent source ends produce() at once and kills ffprobe', async () => {
    const fifo = silentFifo();
    const reader = new VideoStreamReader({ name: 'cam', source: fifo.path, maxRetries: 2, retryDelayMs: 100 });
    const first = reader.produce(context).next();
    try {
      expect(await waitFor(() => processesWith(fifo.path).length > 0, 10_000)).toBe(true);
      await reader.close();
      // Before, produce() went on for the 20 s of the probe's timeout, ffprobe with it.
      await expect(within(first, 3_000, 'produce()')).resolves.toEqual({ done: true, value: undefined });
      expect(processesWith(fifo.path)).toEqual([]);
    } finally {
      await fifo.dispose(first);
    }
  });

  it('an abort during the wait before a reconnection ends produce() at once', async () => {
    const missing = join(dir, 'no-such-stream.mp4');
    const stop = new AbortController();
    const reasons: string[] = [];
    const reader = new VideoStreamReader({
      name: 'cam',
      source: missing,
      width: 64,
      height: 48,
      retryDelayMs: 60_000,
      onReconnect: (_attempt, reason) => {
        reasons.push(reason);
        // ffmpeg failed at once; the reader now waits a minute before its next attempt.
        stop.abort();
      },
    });
    try {
      const end = await within(reader.produce({ signal: stop.signal, taskIndex: 0 }).next(), 3_000, 'produce()');
      expect(end).toEqual({ done: true, value: undefined });
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toContain('no-such-stream.mp4');
    } finally {
      await reader.close();
    }
    expect(runningFfmpegCount()).toBe(0);
  });

  it('a slow consumer is not a stall: frames waiting downstream cause no reconnection', async () => {
    const reasons: string[] = [];
    // An endless source that ffmpeg decodes faster than it is consumed: ffmpeg soon blocks on the
    // full pipe (a 230 kB frame), which is backpressure, not a stall.
    const reader = new VideoStreamReader({
      name: 'cam',
      source: 'testsrc=size=320x240:rate=25',
      inputArgs: ['-f', 'lavfi'],
      width: 320,
      height: 240,
      maxFrames: 4,
      stallTimeoutMs: 300,
      retryDelayMs: 10,
      onReconnect: (_attempt, reason) => reasons.push(reason),
    });
    const frames: VideoFrame[] = [];
    try {
      for await (const frame of reader.produce(context)) {
        frames.push(frame);
        // The consumer's work: twice the stall timeout per frame. Before, each took the reader to
        // `no data for 300 ms` and a new connection.
        await delay(600);
      }
    } finally {
      await reader.close();
    }
    expect(reasons).toEqual([]);
    expect(frames.map((frame) => frame.index)).toEqual([0, 1, 2, 3]);
    expect(runningFfmpegCount()).toBe(0);
  });

  it('a source that sends nothing is still dropped after stallTimeoutMs, then fails with STREAM_UNAVAILABLE', async () => {
    const fifo = silentFifo();
    const reasons: string[] = [];
    const reader = new VideoStreamReader({
      name: 'cam',
      source: fifo.path,
      width: 64,
      height: 48,
      maxRetries: 1,
      retryDelayMs: 10,
      stallTimeoutMs: 300,
      onReconnect: (_attempt, reason) => reasons.push(reason),
    });
    const first = reader.produce(context).next();
    try {
      await expect(within(first, 10_000, 'produce()')).rejects.toMatchObject({ code: VideoErrorCode.StreamUnavailable });
      expect(reasons).toEqual(['no data for 300 ms']);
      expect(processesWith(fifo.path)).toEqual([]);
    } finally {
      await reader.close();
      await fifo.dispose(first);
    }
  });
});
