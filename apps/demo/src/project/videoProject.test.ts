import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Detection, FrameDetections } from '@vf/vision';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_VIDEO_PARAMETERS, JOB_FILES } from './videoJobs.js';
import { describeDevices, type VideoJobSummary } from './videoOperations.js';
import { ANALYZE_GROUP, createVideoProject, PROJECT_SCRIPT, projectExecutable } from './videoProject.js';

const box = (x: number, y: number): Detection => ({ x, y, w: 30, h: 30, area: 900, label: 'object', score: 1 });

/** Ten frames of two boxes moving apart: what `detect` would write for two objects. */
function detectionsFile(): string {
  const frames: FrameDetections[] = Array.from({ length: 10 }, (_, index) => ({
    index,
    timestampMs: index * 40,
    width: 320,
    height: 180,
    detections: [box(10 + 5 * index, 20), box(250 - 5 * index, 120)],
  }));
  return frames.map((frame) => `${JSON.stringify(frame)}\n`).join('');
}

describe('the video project', () => {
  const root = mkdtempSync(join(tmpdir(), 'vf-demo-video-project-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let output = '';
  const project = createVideoProject({
    root,
    stdout: { write: (text: string) => (output += text) },
    stderr: { write: (text: string) => (output += text) },
  });
  const job = project.openJob({ source: 'videos/a.mp4', ...DEFAULT_VIDEO_PARAMETERS }).init();
  job.doc.set('detectorTasks', 3);

  it('has detect, track, summarize, and analyze = detect + track', () => {
    expect(project.operations.map((operation) => operation.name)).toEqual(['detect', 'track', 'summarize']);
    expect(project.group(ANALYZE_GROUP).operationNames).toEqual(['detect', 'track']);
  });

  it('detect asks for one GPU and np = the flow’s tasks (reader + detectors + writer), alone and in analyze', () => {
    expect(project.directivesIn('detect', 'detect', job)).toMatchObject({ ngpu: 1, np: 5, walltime: 0.5, memory: undefined });
    expect(project.directivesIn(ANALYZE_GROUP, 'detect', job)).toMatchObject({ ngpu: 1, np: 5, walltime: 0.75, memory: 4 });
    expect(project.directivesIn('track', 'track', job)).toMatchObject({ ngpu: 0, np: 1, walltime: 0.25 });
  });

  it("analyze's cluster job: the members' directives combined serially", () => {
    expect(project.groupDirectives(ANALYZE_GROUP, job)).toMatchObject({ ngpu: 1, np: 5, memory: 4, walltime: 1 });
  });

  it('scheduler scripts and forks run the project script with a TypeScript loader', () => {
    expect(project.script).toBe(PROJECT_SCRIPT);
    expect(project.executable).toMatch(/tsx/);
  });

  it('conditions chain detect → track → summarize on the files and the document', async () => {
    const state = async () =>
      Promise.all(['detect', 'track', 'summarize'].map(async (name) => ((await project.isEligible(name, job)) ? 'eligible' : '-')));
    expect(await state()).toEqual(['eligible', '-', '-']);
    expect(await project.isGroupEligible(ANALYZE_GROUP, job)).toBe(true);
    writeFileSync(job.fn(JOB_FILES.detections), detectionsFile());
    expect(await state()).toEqual(['-', 'eligible', '-']);
    expect(await project.isGroupEligible(ANALYZE_GROUP, job)).toBe(true);
  });

  it('track and summarize (in passes) count the tracks and write the summary to the file and the document', async () => {
    job.doc.set('detect', { flowMs: 1234, detectorDevices: ['gpu:0', 'cpu', 'cpu'], nodes: [] });
    const result = await project.run({ operations: ['track', 'summarize'] });
    expect(result.executed.map((record) => [record.pass, record.operation])).toEqual([
      [1, 'track'],
      [2, 'summarize'],
    ]);
    expect(await project.isGroupComplete(ANALYZE_GROUP, job)).toBe(true);
    expect(await project.isComplete('summarize', job)).toBe(true);
    const summary = JSON.parse(readFileSync(job.fn(JOB_FILES.summary), 'utf8')) as VideoJobSummary;
    expect(summary).toMatchObject({
      job: job.id,
      source: 'videos/a.mp4',
      frames: 10,
      detections: 20,
      objects: 2,
      tracks: 2,
      detectorTasks: 3,
    });
    expect(summary.parameters).toEqual(DEFAULT_VIDEO_PARAMETERS);
    expect(job.doc.get('summary')).toEqual(summary);
    const lines = readFileSync(job.fn(JOB_FILES.tracks), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(10);
    expect(JSON.parse(lines[9]!).tracks.map((track: { id: number }) => track.id)).toEqual([1, 2]);
    expect(output).toMatch(/^track {3}job \w{8} \(a\.mp4\): 2 track\(s\), at most 2 on screen, over 10 frames$/m);
  });
});

describe('projectExecutable', () => {
  it('adds the tsx loader when the flags have none, and keeps flags that do', () => {
    expect(projectExecutable([])).toMatch(/^\S*node --import file:\S*tsx\S*$/);
    expect(projectExecutable(['--import', 'tsx', '--conditions=@vf/source'])).toMatch(
      /^\S*node --import file:\S*tsx\S* --conditions=@vf\/source$/,
    );
  });
});

describe('describeDevices', () => {
  it('counts repeated devices', () => {
    expect(describeDevices(['cpu', 'cpu'])).toBe('cpu ×2');
    expect(describeDevices(['gpu:0', 'cpu', 'cpu'])).toBe('gpu:0, cpu ×2');
    expect(describeDevices([])).toBe('no task');
  });
});
