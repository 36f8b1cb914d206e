import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VideoFrame } from '@vf/vision';
import { BOX_MARGIN, BOX_THICKNESS, probeVideo, TRACK_COLORS, VideoDecoder } from '@vf/vision';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../src/analyzeVideo.js';
import { SAMPLE_SHAPES, type SceneShape, sceneAt } from '../src/video/sampleVideo.js';
import { leftovers, startCli } from './support/runCli.js';

const DURATION_S = 3;
const FPS = 25;
const FRAMES = DURATION_S * FPS;
const CHECKED_FRAMES = [5, 37, 70];

/** Decodes the given frames of a video. */
async function framesAt(file: string, indices: readonly number[]): Promise<Map<number, VideoFrame>> {
  const wanted = new Set(indices);
  const frames = new Map<number, VideoFrame>();
  for await (const frame of new VideoDecoder(file, { width: 640, height: 360 }).frames()) {
    if (wanted.has(frame.index)) frames.set(frame.index, frame);
  }
  return frames;
}

function pixel(frame: VideoFrame, x: number, y: number): [number, number, number] {
  const at = 3 * (y * frame.width + x);
  return [frame.data[at] ?? 0, frame.data[at + 1] ?? 0, frame.data[at + 2] ?? 0];
}

const distance = (a: readonly number[], b: readonly number[]) => Math.hypot(...a.map((value, i) => value - (b[i] ?? 0)));
const isTrackColor = (rgb: readonly number[]) => TRACK_COLORS.some((color) => distance(rgb, color) < 70);

/**
 * Where the box frame around `shape` should be: a point on each side, midway, in the middle of the
 * drawn line's thickness. H.264 blurs edges by a pixel or two, so the check looks across the line.
 */
function boxSamplePoints(shape: SceneShape): Array<Array<[number, number]>> {
  const mid = BOX_MARGIN + (BOX_THICKNESS - 1) / 2;
  const cx = Math.round(shape.x + shape.w / 2);
  const cy = Math.round(shape.y + shape.h / 2);
  const across = (fixed: 'x' | 'y', at: number, other: number) =>
    [-1, 0, 1].map((offset): [number, number] => (fixed === 'x' ? [Math.round(at + offset), other] : [other, Math.round(at + offset)]));
  return [
    across('x', shape.x - 1 - mid, cy), // left
    across('x', shape.x + shape.w + mid, cy), // right
    across('y', shape.y + shape.h + mid, cx), // bottom (the label tab may sit on top)
  ];
}

describe('the main job on a generated 3 s video (batch engine, 2 detector replicas)', () => {
  const out = mkdtempSync(join(tmpdir(), 'vf-demo-e2e-'));
  let run: Awaited<ReturnType<typeof startCli>['done']>;
  let marker: string;

  beforeAll(async () => {
    const cli = startCli([
      '--sample',
      '--output',
      out,
      '--duration',
      String(DURATION_S),
      '--fps',
      String(FPS),
      '--detector-tasks',
      '2',
      '--no-progress',
    ]);
    marker = cli.marker;
    run = await cli.done;
  }, 180_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('exits 0 and prints the bottleneck table', () => {
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/flow completed in/);
    expect(run.stdout).toMatch(/detector\s+│\s+2\s+│/);
    expect(run.stdout).toMatch(/<- bottleneck/);
  });

  it('writes a playable H.264 MP4 with every frame, at the input size', async () => {
    const info = await probeVideo(join(out, 'annotated.mp4'), { countFrames: true });
    expect(info).toMatchObject({ width: 640, height: 360, frames: FRAMES, codec: 'h264' });
  });

  it('draws a box in a track colour around each shape, where the input has background', async () => {
    const [annotated, input] = await Promise.all([
      framesAt(join(out, 'annotated.mp4'), CHECKED_FRAMES),
      framesAt(join(out, 'sample.mp4'), CHECKED_FRAMES),
    ]);
    for (const index of CHECKED_FRAMES) {
      const outFrame = annotated.get(index) as VideoFrame;
      const inFrame = input.get(index) as VideoFrame;
      for (const shape of sceneAt(index, { durationS: DURATION_S, fps: FPS })) {
        for (const side of boxSamplePoints(shape)) {
          const where = `frame ${index}, shape ${shape.id} (${shape.kind} at ${shape.x},${shape.y}), near ${side[1]?.join(',')}`;
          expect(
            side.some(([x, y]) => isTrackColor(pixel(outFrame, x, y))),
            `box line in the output: ${where}`,
          ).toBe(true);
          expect(
            side.every(([x, y]) => !isTrackColor(pixel(inFrame, x, y))),
            `background in the input: ${where}`,
          ).toBe(true);
        }
      }
    }
  });

  it('writes a summary that counts one track per shape, and per-node fps', () => {
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as DemoSummary;
    expect(summary).toMatchObject({ status: 'completed', engine: 'batch', frames: FRAMES, tracks: SAMPLE_SHAPES, objects: SAMPLE_SHAPES });
    expect(summary.trackSpans.every((span) => span.frames > FRAMES * 0.9)).toBe(true);
    expect(summary.nodes.map((node) => node.name)).toEqual(['video', 'detector', 'tracker', 'annotator', 'writer', 'counter']);
    for (const node of summary.nodes) expect(node.actualFps, node.name).toBeGreaterThan(0);
  });

  it('leaves no process behind (task processes, ffmpeg)', async () => {
    expect(await leftovers(marker)).toEqual([]);
  });
});

describe('bad input', () => {
  const out = mkdtempSync(join(tmpdir(), 'vf-demo-bad-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('a missing file: exit 1 and an error that names it', async () => {
    const missing = join(out, 'no-such-video.mp4');
    const { code, stderr } = await startCli(['--input', missing, '--output', out, '--no-progress']).done;
    expect(code).toBe(1);
    expect(stderr).toContain(`error: video file ${missing} does not exist (VIDEO_NOT_FOUND)`);
  }, 60_000);

  it('a corrupt file: exit 1 and an error that names it', async () => {
    const corrupt = join(out, 'corrupt.mp4');
    writeFileSync(corrupt, Buffer.alloc(4096, 7));
    const { code, stderr } = await startCli(['--input', corrupt, '--output', out, '--no-progress']).done;
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`error: cannot read video ${corrupt}: .*\\(VIDEO_UNREADABLE\\)`));
  }, 60_000);
});
