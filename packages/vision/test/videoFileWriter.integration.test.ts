import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow, type FlowReport, InProcessEngine, isVfError, type OnError } from '@vf/core';
import { captureLogs } from '@vf/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ImageFolderReader,
  probeVideo,
  runningFfmpegCount,
  VideoDecoder,
  VideoErrorCode,
  VideoFileWriter,
  type VideoFrame,
} from '../src/index.js';
import { redOf, solidFrame, writePng } from './support/frames.js';
import { joinWithin } from './support/joinWithin.js';
import { processesWith, waitFor } from './support/processes.js';

const FPS = 10;
const dir = mkdtempSync(join(tmpdir(), 'vf-vision-writer-'));

/** `error` is the writer's coded failure, naming the node and `path`. */
function expectEncodeFailed(error: unknown, path: string): void {
  expect(isVfError(error), String(error)).toBe(true);
  expect(error).toMatchObject({ code: VideoErrorCode.EncodeFailed });
  expect((error as Error).message).toContain('writer');
  expect((error as Error).message).toContain(path);
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function decodeAll(path: string): Promise<VideoFrame[]> {
  const info = await probeVideo(path);
  const frames: VideoFrame[] = [];
  for await (const frame of new VideoDecoder(path, info).frames()) frames.push(frame);
  return frames;
}

async function write(path: string, indices: readonly number[], totalFrames?: number): Promise<VideoFileWriter> {
  const writer = new VideoFileWriter({ name: 'writer', path, fps: FPS, ...(totalFrames === undefined ? {} : { totalFrames }) });
  await writer.open();
  try {
    for (const index of indices) await writer.consume(solidFrame(index, FPS));
  } finally {
    await writer.close();
  }
  return writer;
}

describe('VideoFileWriter keeps the input timing', () => {
  it('fills frames missing in the middle; the file ends with the last frame received, not padded to totalFrames', async () => {
    const path = join(dir, 'gaps.mp4');
    // Frames dropped here and there, then the flow stopped after frame 16 of 20: the file must not look complete.
    const writer = await write(path, [0, 1, 5, 6, 9, 12, 16], 20);
    expect(writer.framesRepeated).toBe(10);
    const info = await probeVideo(path, { countFrames: true });
    expect(info.frames).toBe(17);
    expect(info.durationS).toBeCloseTo(1.7, 1);
    // Each gap holds the frame before it (the red channel encodes the frame index).
    const expected = [0, 1, 1, 1, 1, 5, 6, 6, 6, 9, 9, 9, 12, 12, 12, 12, 16];
    const reds = (await decodeAll(path)).map(redOf);
    expect(reds).toHaveLength(expected.length);
    for (const [slot, red] of reds.entries())
      expect(Math.abs(red - 10 * (expected[slot] as number)), `slot ${slot}`).toBeLessThanOrEqual(6);
  });

  it('starts the file at time 0 when the first frames were dropped, and skips a frame whose slot is taken', async () => {
    const path = join(dir, 'late.mp4');
    const writer = await write(path, [3, 4, 4, 6]);
    expect(writer.framesSkipped).toBe(1);
    const info = await probeVideo(path, { countFrames: true });
    expect(info.frames).toBe(7);
    const reds = (await decodeAll(path)).map(redOf);
    expect(Math.abs((reds[0] as number) - 30)).toBeLessThanOrEqual(6); // frame 3 shown from the start
  });

  it('writes every frame once when none is missing', async () => {
    const path = join(dir, 'all.mp4');
    const writer = await write(
      path,
      Array.from({ length: 15 }, (_, index) => index),
      15,
    );
    expect(writer.framesRepeated).toBe(0);
    expect((await probeVideo(path, { countFrames: true })).frames).toBe(15);
  });
});

describe('VideoFileWriter failures', () => {
  it('a path under a file, a frame of another size and a frame of 2 channels are coded VideoErrors naming the node and file', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const under = join(blocker, 'out.mp4');
    const blocked = new VideoFileWriter({ name: 'writer', path: under, fps: FPS });
    const mkdirError = await blocked.consume(solidFrame(0, FPS)).catch((error: unknown) => error);
    expectEncodeFailed(mkdirError, under);
    await blocked.close().catch(() => undefined);

    const resized = join(dir, 'resized.mp4');
    const writer = new VideoFileWriter({ name: 'writer', path: resized, fps: FPS, onError: 'skip' });
    await writer.consume(solidFrame(0, FPS));
    expectEncodeFailed(await writer.consume(solidFrame(1, FPS, 32, 24)).catch((error: unknown) => error), resized);
    await writer.close(); // with onError 'skip' the frame of another size failed alone: the file holds the others
    expect((await probeVideo(resized, { countFrames: true })).frames).toBe(1);

    // Under the default onError ('fail') it is the writer's failure: close() reports it and keeps no file.
    const failed = join(dir, 'resized-failed.mp4');
    const failing = new VideoFileWriter({ name: 'writer', path: failed, fps: FPS });
    await failing.consume(solidFrame(0, FPS));
    const oddFrame = await failing.consume(solidFrame(1, FPS, 32, 24)).catch((error: unknown) => error);
    expectEncodeFailed(oddFrame, failed);
    expect(await failing.close().catch((error: unknown) => error)).toBe(oddFrame);
    expect(readdirSync(dir).filter((name) => name.startsWith('resized-failed'))).toEqual([]);

    const twoChannels = join(dir, 'two-channels.mp4');
    const grey = new VideoFileWriter({ name: 'writer', path: twoChannels, fps: FPS });
    const frame = { index: 0, timestampMs: 0, width: 4, height: 4, channels: 2, data: new Uint8Array(32) };
    expectEncodeFailed(await grey.consume(frame).catch((error: unknown) => error), twoChannels);
    await grey.close();
    expect(readdirSync(dir).filter((name) => name.startsWith('two-channels'))).toEqual([]);
  });

  it('a frame stamped in epoch milliseconds (an hour-long gap to fill) or with a NaN timestamp is VIDEO_ENCODE_FAILED naming it, before anything is written', async () => {
    const stamped = (index: number, timestampMs: number) => ({ ...solidFrame(index, FPS), timestampMs });
    const epoch = join(dir, 'epoch.mp4');
    const writer = new VideoFileWriter({ name: 'writer', path: epoch, fps: FPS, onError: 'skip' });
    // Before, the first of these had the writer repeat it into 1.7e10 slots (hours of encoding).
    const first = await writer.consume(stamped(0, 1.7e12)).catch((error: unknown) => error);
    expectEncodeFailed(first, epoch);
    expect((first as Error).message).toMatch(/epoch milliseconds/);
    await writer.consume(stamped(1, 0));
    expectEncodeFailed(await writer.consume(stamped(2, Number.NaN)).catch((error: unknown) => error), epoch);
    expectEncodeFailed(await writer.consume(stamped(3, 3_600_000 + 1_000)).catch((error: unknown) => error), epoch);
    await writer.consume(stamped(4, 500)); // half a second on: its gap is filled
    await writer.close();
    expect(writer.framesWritten).toBe(6);
    expect((await probeVideo(epoch, { countFrames: true })).frames).toBe(6);
  });

  it('when ffmpeg fails mid-stream (killed, disk full) the writer fails with VIDEO_ENCODE_FAILED and leaves no file', async () => {
    const folder = join(dir, 'killed');
    mkdirSync(folder);
    const path = join(folder, 'out.mp4');
    const writer = new VideoFileWriter({ name: 'writer', path, fps: FPS });
    await writer.consume(solidFrame(0, FPS));
    const encoders = processesWith(path).filter((line) => line.includes('ffmpeg'));
    expect(encoders).toHaveLength(1);
    process.kill(Number.parseInt((encoders[0] as string).trim(), 10), 'SIGKILL');
    let failure: unknown;
    // Bounded: the pipe takes a few frames more before the write fails.
    for (let index = 1; index < 500 && failure === undefined; index++) {
      failure = await writer.consume(solidFrame(index, FPS)).catch((error: unknown) => error);
    }
    const closed = await writer.close().catch((error: unknown) => error);
    expectEncodeFailed(failure ?? closed, path);
    expectEncodeFailed(closed, path);
    expect(readdirSync(folder)).toEqual([]);
    expect(runningFfmpegCount()).toBe(0);
  });
});

describe('VideoFileWriter finishTimeoutMs', () => {
  it("is refused at construction beyond a Node timer's limit (its timer fired at once: ffmpeg killed, the video lost); at the limit the file is finished", async () => {
    // Before: accepted; close() then killed ffmpeg at once and failed with "ffmpeg exited with 255".
    expect(() => new VideoFileWriter({ name: 'writer', path: join(dir, 'overflow.mp4'), fps: FPS, finishTimeoutMs: 3e9 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('finishTimeoutMs') }),
    );
    const path = join(dir, 'longest-timeout.mp4');
    const writer = new VideoFileWriter({ name: 'writer', path, fps: FPS, finishTimeoutMs: 2 ** 31 - 1 });
    try {
      for (let index = 0; index < 3; index++) await writer.consume(solidFrame(index, FPS));
    } finally {
      await writer.close();
    }
    expect((await probeVideo(path, { countFrames: true })).frames).toBe(3);
    expect(runningFfmpegCount()).toBe(0);
  });
});

describe('VideoFileWriter in a flow, given a frame of another size', () => {
  /** A folder of 6 PNGs (64×48, the frame `odd` 32×24) → writer at `output` (holding an earlier file), run in-process. */
  async function runFolder(name: string, odd: number, onError?: OnError): Promise<{ report: FlowReport; folder: string; output: string }> {
    const folder = join(dir, name);
    const images = join(folder, 'images');
    mkdirSync(images, { recursive: true });
    for (let index = 0; index < 6; index++) {
      await writePng(join(images, `img${index}.png`), index === odd ? solidFrame(index, FPS, 32, 24) : solidFrame(index, FPS));
    }
    const output = join(folder, 'out.mp4');
    writeFileSync(output, 'EARLIER FILE');
    const reader = new ImageFolderReader({ name: 'images', path: images, fps: FPS });
    const writer = new VideoFileWriter({ name: 'writer', path: output, fps: FPS, ...(onError === undefined ? {} : { onError }) }).from(
      reader,
    );
    const flow = new Flow([reader], [writer]);
    // Quiet: the runtime logs each skipped or failed item.
    const logs = captureLogs('error');
    try {
      await flow.run(new InProcessEngine(), { handleSigint: false });
      const report = await joinWithin(flow);
      return { report, folder, output };
    } finally {
      logs.stop();
    }
  }

  it('fails the flow (default onError) and leaves the earlier file at the path as it was, no partial file, no ffmpeg', async () => {
    const { report, folder, output } = await runFolder('odd-fails', 3);
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'TASK_FAILED', nodeName: 'writer' });
    // The cause crosses to the host serialised: its code and message, not its class.
    const cause = report.error?.cause as Error | undefined;
    expect(cause).toMatchObject({ code: VideoErrorCode.EncodeFailed });
    expect(cause?.message).toContain(`writer: cannot write frame 3 to ${output}`);
    expect(cause?.message).toMatch(/frame 3 .*is 32×24×3, but the video is 64×48×3/);
    // Before: the earlier file was replaced by a playable MP4 of the 3 frames before the odd one.
    expect(readFileSync(output, 'utf8')).toBe('EARLIER FILE');
    expect(readdirSync(folder).sort()).toEqual(['images', 'out.mp4']);
    expect(runningFfmpegCount()).toBe(0);
  });

  it("with onError 'skip' goes on without the odd frame and finishes the file, also when the odd frame is the last", async () => {
    const middle = await runFolder('odd-skipped', 3, 'skip');
    expect(middle.report.status, String(middle.report.error)).toBe('completed');
    expect(middle.report.nodes.find((node) => node.name === 'writer')?.failed).toBe(1);
    // Slot 3 repeats frame 2: the file keeps the input's timing.
    expect((await decodeAll(middle.output)).map((frame) => Math.round(redOf(frame) / 10))).toEqual([0, 1, 2, 2, 4, 5]);

    const last = await runFolder('odd-last-skipped', 5, 'skip');
    expect(last.report.status, String(last.report.error)).toBe('completed');
    expect((await probeVideo(last.output, { countFrames: true })).frames).toBe(5);
    expect(readdirSync(last.folder).sort()).toEqual(['images', 'out.mp4']);
    expect(runningFfmpegCount()).toBe(0);
  });
});

describe('VideoFileWriter when ffmpeg was killed while it waited for a frame', () => {
  it('the next frame (larger than the pipe takes at once) fails with VIDEO_ENCODE_FAILED instead of waiting forever', async () => {
    const folder = join(dir, 'killed-idle');
    mkdirSync(folder);
    const path = join(folder, 'out.mp4');
    const writer = new VideoFileWriter({ name: 'writer', path, fps: FPS });
    await writer.consume(solidFrame(0, FPS, 640, 480));
    const encoder = Number.parseInt((processesWith(path).find((line) => line.includes('ffmpeg')) as string).trim(), 10);
    process.kill(encoder, 'SIGKILL');
    // ffmpeg is gone (its exit seen) before the next frame comes: killed by a signal, its exitCode stays null.
    expect(await waitFor(() => processesWith(path).every((line) => !line.includes('ffmpeg')), 10_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const outcome = await Promise.race([
      writer.consume(solidFrame(1, FPS, 640, 480)).then(
        () => 'written',
        (error: unknown) => error,
      ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000).unref()),
    ]);
    // Before: 'still waiting' (the write waited for a 'drain' that never comes).
    expectEncodeFailed(outcome, path);
    expectEncodeFailed(await writer.close().catch((error: unknown) => error), path);
    expect(readdirSync(folder)).toEqual([]);
  });
});

describe('VideoFileWriter and Ctrl-C', () => {
  const require = createRequire(import.meta.url);
  const tsx = require.resolve('tsx');
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  });

  it('SIGINT to the process group leaves ffmpeg running until the writer closes: a playable file with every frame, no ffmpeg left', async () => {
    const path = join(dir, 'sigint.mp4');
    // Its own process group, as a terminal's foreground job is: Ctrl-C signals the whole group.
    child = spawn(
      process.execPath,
      ['--import', tsx, '--conditions=@vf/source', join(import.meta.dirname, 'fixtures/writeUntilSigint.ts'), path, '12'],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    expect(await waitFor(() => stdout.includes('written'), 60_000), stderr).toBe(true);
    const ffmpegWith = (marker: string) => processesWith(marker).filter((line) => line.includes('ffmpeg'));
    expect(ffmpegWith(path)).toHaveLength(1); // the encoder
    process.kill(-(child.pid as number), 'SIGINT');
    const code = await new Promise<number | null>((resolve) => child?.once('exit', resolve));
    expect(stderr).not.toMatch(/EPIPE|exited with/);
    expect(code).toBe(0);
    expect(stdout).toContain('closed after SIGINT');
    const info = await probeVideo(path, { countFrames: true });
    expect(info).toMatchObject({ frames: 12, codec: 'h264' });
    expect(ffmpegWith(path)).toEqual([]);
  });
});
