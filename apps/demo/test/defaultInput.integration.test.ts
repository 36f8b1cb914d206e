import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeVideo, realFootage } from '@vf/vision';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../src/analyzeVideo.js';
import { leftovers, startCli } from './support/runCli.js';

type CliResult = Awaited<ReturnType<typeof startCli>['done']>;

// The clip the demo fetches by default (apt-get download opencv-doc, cached): without apt (not
// Debian) the first suite has nothing to run on; the fallback suite covers that case.
const footage = await realFootage('vtest.avi', { log: (line) => console.log(line) });
const unavailable = 'unavailable' in footage ? footage.unavailable : undefined;

describe.skipIf(unavailable !== undefined)('with no --input: the first seconds of the real clip, COCO detector', () => {
  const out = mkdtempSync(join(tmpdir(), 'vf-demo-clip-'));
  let run: CliResult;
  let marker: string;
  let summary: DemoSummary;

  beforeAll(async () => {
    // 2 s (20 frames at 10 fps) instead of the default slice: enough for people to be tracked.
    const cli = startCli(['--output', out, '--max-seconds', '2', '--detector-tasks', '2', '--no-progress']);
    marker = cli.marker;
    run = await cli.done;
    summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as DemoSummary;
  }, 300_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs the COCO detector on vtest.avi, cut to --max-seconds', () => {
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(summary).toMatchObject({ status: 'completed', generatedInput: false, detector: 'coco', maxFrames: 20, frames: 20 });
    expect(summary.input).toMatch(/vtest\.avi$/);
    expect(run.stdout).toContain('analysing the first 20 of');
  });

  it('counts persons per class, labels each track, and says which TensorFlow.js backend ran', () => {
    const person = summary.classes?.person as { tracks: number; detections: number } | undefined;
    expect(person?.tracks).toBeGreaterThanOrEqual(1);
    expect(person?.detections).toBeGreaterThanOrEqual(20);
    expect(summary.trackSpans.length).toBe(summary.tracks);
    for (const span of summary.trackSpans) expect(typeof span.label).toBe('string');
    expect(summary.backends?.length).toBeGreaterThanOrEqual(1);
    for (const backend of summary.backends ?? []) expect(backend).toMatch(/^tensorflow\.js /);
    expect(run.stdout).toMatch(/per class: .*person \d+ tracks?/);
    // The report's device column: where vf placed each replica and the backend it ran, e.g. `cpu (wasm)`.
    const detector = summary.nodes.find((node) => node.name === 'detector');
    expect(detector?.device).toHaveLength(2);
    for (const label of detector?.device ?? []) expect(label).toMatch(/ \((wasm|cpu|tensorflow)\)$/);
  });

  it('writes an annotated MP4 as long as the slice', async () => {
    const info = await probeVideo(join(out, 'annotated.mp4'), { countFrames: true });
    expect(info).toMatchObject({ width: 768, height: 576, frames: 20, codec: 'h264' });
    expect(info.durationS).toBeCloseTo(2, 1);
  });

  it('leaves no process behind', async () => {
    expect(await leftovers(marker)).toEqual([]);
  });
});

describe('with no --input and no way to fetch the clip', () => {
  const out = mkdtempSync(join(tmpdir(), 'vf-demo-noclip-'));
  // No apt on PATH and an empty footage cache: realFootage() cannot have the clip.
  const emptyPath = mkdtempSync(join(tmpdir(), 'vf-demo-nopath-'));
  const emptyCache = mkdtempSync(join(tmpdir(), 'vf-demo-nocache-'));
  afterAll(() => {
    for (const dir of [out, emptyPath, emptyCache]) rmSync(dir, { recursive: true, force: true });
  });

  it('falls back to a generated sample and the motion detector, saying why in one line', async () => {
    const cli = startCli(
      ['--output', out, '--duration', '1', '--size', '160x96', '--fps', '10', '--detector-tasks', '1', '--no-progress'],
      {
        env: { PATH: emptyPath, VF_FOOTAGE_CACHE: emptyCache },
      },
    );
    const { code, stdout, stderr } = await cli.done;
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    const explanations = stdout.split('\n').filter((line) => line.startsWith('real footage unavailable'));
    expect(explanations).toHaveLength(1);
    expect(explanations[0]).toMatch(/apt-get.*: analysing a generated sample video with the motion detector instead$/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as DemoSummary;
    expect(summary).toMatchObject({ status: 'completed', generatedInput: true, detector: 'motion', frames: 10 });
    expect(summary).not.toHaveProperty('maxFrames');
    expect(await leftovers(cli.marker)).toEqual([]);
  }, 180_000);
});
