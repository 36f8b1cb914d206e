import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsumerNode, Flow, type FlowReport, InProcessEngine } from '@vf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CameraSource, runningFfmpegCount, VideoEncoder, type VideoFrame } from '../src/index.js';
import { solidFrame } from './support/frames.js';
import { joinWithin } from './support/joinWithin.js';

const FPS = 10;
const CLIP_FRAMES = 4;
const dir = mkdtempSync(join(tmpdir(), 'vf-vision-camera-'));
const clip = join(dir, 'clip.mp4');

beforeAll(async () => {
  const encoder = VideoEncoder.start(clip, { width: 64, height: 48, fps: FPS, crf: 10 });
  for (let index = 0; index < CLIP_FRAMES; index++) await encoder.write(solidFrame(index, FPS).data);
  await encoder.finish();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Keeps the index of every frame it receives. */
class Indices extends ConsumerNode<[VideoFrame]> {
  readonly indices: number[] = [];
  consume(frame: VideoFrame): void {
    this.indices.push(frame.index);
  }
}

/** Runs `camera → Indices` in-process, bounded: the indices received and the report. */
async function play(camera: CameraSource): Promise<{ indices: number[]; report: FlowReport }> {
  const sink = new Indices({ name: 'sink' }).from(camera);
  const flow = new Flow([camera], [sink]);
  await flow.run(new InProcessEngine(), { handleSigint: false });
  return { indices: sink.indices, report: await joinWithin(flow) };
}

describe('CameraSource maxFrames', () => {
  it('counts frames in total across loops, not per loop', async () => {
    // Before: each loop stopped after 5 frames of its own, 3 loops of the 4-frame clip gave all 12.
    const within = await play(new CameraSource({ name: 'camera', path: clip, fps: 1000, loops: 3, maxFrames: 5 }));
    expect(within.report.status, String(within.report.error)).toBe('completed');
    expect(within.indices).toEqual([0, 1, 2, 3, 4]);

    // Ends inside the first loop: before, 2 frames of each of the 3 loops (indices 0, 1, 2, 3, 4, 5).
    const short = await play(new CameraSource({ name: 'camera', path: clip, fps: 1000, loops: 3, maxFrames: 2 }));
    expect(short.indices).toEqual([0, 1]);

    // More than the loops hold: every loop, once.
    const all = await play(new CameraSource({ name: 'camera', path: clip, fps: 1000, loops: 2, maxFrames: 100 }));
    expect(all.indices).toEqual(Array.from({ length: 2 * CLIP_FRAMES }, (_, index) => index));
    expect(runningFfmpegCount()).toBe(0);
  });
});
