import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExecutionEngine, Flow, type FlowReport } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { RealtimeExecutionEngine } from '@vf/engine-realtime';
import { GpuAllocator } from '@vf/gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeVideo, type TrackCounts } from '../src/index.js';
import type { VtestParams } from './flows/vtest.js';
import { vtestOrSkip } from './support/footage.js';
import { processesWith } from './support/processes.js';

/** Frames 0–59 of vtest.avi (6 s at 10 fps): 7 people walk through them, by hand count. */
const FRAMES = 60;
const FPS = 10;
const PEOPLE = 7;

const footage = await vtestOrSkip();
const dir = mkdtempSync(join(tmpdir(), 'vf-vision-vtest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runFlow(name: string, engine: ExecutionEngine, camera: boolean) {
  const params: VtestParams = {
    input: footage as string,
    output: join(dir, `${name}.mp4`),
    counts: join(dir, `${name}.json`),
    frames: FRAMES,
    fps: FPS,
    detectorTasks: 2,
    camera,
  };
  const flow = await Flow.load(new URL('./flows/vtest.ts', import.meta.url), params);
  const started = performance.now();
  await flow.run(engine, { deviceAllocator: new GpuAllocator() });
  const report = await flow.join();
  const seconds = (performance.now() - started) / 1000;
  const counts = JSON.parse(readFileSync(params.counts, 'utf8')) as TrackCounts;
  const video = await probeVideo(params.output, { countFrames: true });
  console.log(
    `${name}: ${report.status} in ${seconds.toFixed(1)} s (${(FRAMES / seconds).toFixed(1)} fps end to end, machine loaded); ` +
      `detector ${report.nodes.find((node) => node.name === 'detector')?.meanProctimeMs.toFixed(0)} ms/frame on ${counts.backends.join(', ')}; ` +
      `${counts.frames} frames tracked, ${counts.tracks} person tracks for ${PEOPLE} people; output ${video.frames} frames, ${video.durationS} s`,
  );
  return { report, counts, video, params };
}

describe.skipIf(footage === undefined)(`the COCO detector → SORT → annotator → writer flow on ${FRAMES} frames of vtest.avi`, () => {
  describe('batch engine, 2 detector replicas', () => {
    let result: Awaited<ReturnType<typeof runFlow>>;
    beforeAll(async () => {
      result = await runFlow('batch', new BatchExecutionEngine({ queueSize: 4 }), false);
    });

    it('completes, with both replicas each loading the model, and reports the backend that ran', () => {
      const { report, counts } = result;
      expect(report.status, String(report.error)).toBe('completed');
      const detector = report.nodes.find((node) => node.name === 'detector') as FlowReport['nodes'][number];
      expect(detector.tasks).toBe(2);
      expect(detector.received).toBe(FRAMES);
      expect(counts.backends).toHaveLength(1);
      expect(counts.backends[0]).toMatch(/^tensorflow\.js /);
      // The report's device column says which backend each replica ran, e.g. `cpu (wasm)`.
      expect(detector.deviceLabel).toHaveLength(2);
      for (const label of detector.deviceLabel) expect(label).toMatch(/ \((wasm|cpu|tensorflow)\)$/);
    });

    it('writes an MP4 ffprobe reads with the input slice’s frame count and duration', () => {
      expect(result.video).toMatchObject({ width: 768, height: 576, frames: FRAMES, codec: 'h264' });
      expect(result.video.durationS).toBeCloseTo(FRAMES / FPS, 1);
    });

    it('tracks persons with stable ids: at most 4 tracks more than the 7 people (id switches and fragments)', () => {
      const { counts } = result;
      expect(counts.frames).toBe(FRAMES);
      expect(Object.keys(counts.classes)).toEqual(['person']);
      const person = counts.classes.person;
      expect(person?.tracks).toBe(counts.tracks);
      const switches = Math.max(0, counts.tracks - PEOPLE);
      const longest = Math.max(...counts.spans.map((span) => span.frames));
      console.log(`id switches/fragments: ${switches} (${counts.tracks} tracks, longest ${longest} of ${FRAMES} frames)`);
      expect(counts.tracks).toBeGreaterThanOrEqual(PEOPLE - 2);
      expect(switches).toBeLessThanOrEqual(4);
      // The three people on screen from frame 0 keep one id for most of the slice.
      expect(
        counts.spans.filter((span) => span.firstFrame <= 3 && span.lastFrame - span.firstFrame >= FRAMES / 2).length,
      ).toBeGreaterThanOrEqual(2);
    });

    it('leaves no ffmpeg behind', () => {
      expect(processesWith(result.params.output)).toEqual([]);
    });
  });

  describe('realtime engine, camera-paced at 10 fps (the detector cannot keep up: frames are dropped)', () => {
    let result: Awaited<ReturnType<typeof runFlow>>;
    beforeAll(async () => {
      result = await runFlow('realtime', new RealtimeExecutionEngine({ queueSize: 1 }), true);
    });

    it('still writes an MP4 as long as the input: every frame slot filled', () => {
      const { report, video, counts } = result;
      expect(report.status, String(report.error)).toBe('completed');
      const dropped = report.nodes.reduce((sum, node) => sum + node.dropped, 0);
      console.log(`realtime: ${dropped} drops; ${counts.frames} of ${FRAMES} frames reached the counter`);
      expect(video).toMatchObject({ frames: FRAMES, codec: 'h264' });
      expect(video.durationS).toBeCloseTo(FRAMES / FPS, 1);
    });

    it('leaves no ffmpeg behind', () => {
      expect(processesWith(result.params.output)).toEqual([]);
    });
  });
});
