import { once } from 'node:events';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVfError } from '@vf/core';
import { captureLogs } from '@vf/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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

const context = { taskIndex: 0 } as never;

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
