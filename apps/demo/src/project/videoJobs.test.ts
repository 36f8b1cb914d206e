import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Workspace } from '@vf/groups';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_DETECTOR_TASKS,
  DEFAULT_VIDEO_PARAMETERS,
  jobDetectorTasks,
  parseParameterList,
  sourceName,
  statepointGrid,
  videoPath,
  videoStatepoint,
} from './videoJobs.js';

describe('parseParameterList', () => {
  it('reads comma-separated values', () => {
    expect(parseParameterList('threshold', '30, 40,50.5')).toEqual([30, 40, 50.5]);
    expect(parseParameterList('iouThreshold', '1')).toEqual([1]);
  });

  it.each([
    ['threshold', '256', /threshold: "256" is not a number in \[0, 255\]/],
    ['threshold', '30,,40', /threshold: "" is not a number/],
    ['minArea', '12.5', /minArea: "12.5" is not an integer ≥ 1/],
    ['minHits', '0', /minHits: "0" is not an integer ≥ 1/],
    ['iouThreshold', '0', /iouThreshold: "0" is not a number in \(0, 1\]/],
    ['maxAge', 'many', /maxAge: "many"/],
  ] as const)('refuses %s=%s', (name, text, message) => {
    expect(() => parseParameterList(name, text)).toThrow(message);
  });
});

describe('statepointGrid', () => {
  it('one state point per source and combination, sources first, defaults elsewhere', () => {
    const grid = statepointGrid(['a.mp4', 'b.mp4', 'a.mp4'], { threshold: [30, 40], minHits: [2, 3, 2] });
    expect(grid.map(({ source, threshold, minHits }) => `${source} ${threshold} ${minHits}`)).toEqual([
      'a.mp4 30 2',
      'a.mp4 30 3',
      'a.mp4 40 2',
      'a.mp4 40 3',
      'b.mp4 30 2',
      'b.mp4 30 3',
      'b.mp4 40 2',
      'b.mp4 40 3',
    ]);
    expect(grid[0]).toEqual({ ...DEFAULT_VIDEO_PARAMETERS, source: 'a.mp4', threshold: 30, minHits: 2 });
  });

  it('no grid: the defaults', () => {
    expect(statepointGrid(['a.mp4'], { threshold: [] })).toEqual([{ source: 'a.mp4', ...DEFAULT_VIDEO_PARAMETERS }]);
  });
});

describe('sources', () => {
  it('are relative to the project root inside it, absolute outside', () => {
    expect(sourceName('/p/root', '/p/root/videos/a.mp4')).toBe('videos/a.mp4');
    expect(sourceName('/p/root', '/p/other/a.mp4')).toBe('/p/other/a.mp4');
    expect(sourceName('/p/root', '/p/root-2/a.mp4')).toBe('/p/root-2/a.mp4');
    expect(videoPath('/p/root', { source: 'videos/a.mp4' })).toBe('/p/root/videos/a.mp4');
    expect(videoPath('/p/root', { source: '/elsewhere/a.mp4' })).toBe('/elsewhere/a.mp4');
  });
});

describe('jobs', () => {
  const folder = mkdtempSync(join(tmpdir(), 'vf-demo-jobs-'));
  const workspace = new Workspace(folder);
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('videoStatepoint fills parameters a job lacks with their defaults', () => {
    const job = workspace.openJob({ source: 'a.mp4', threshold: 25 });
    expect(videoStatepoint(job)).toEqual({ ...DEFAULT_VIDEO_PARAMETERS, source: 'a.mp4', threshold: 25 });
  });

  it('videoStatepoint refuses a job without a source, or with a parameter out of range (INVALID_JOB)', () => {
    expect(() => videoStatepoint(workspace.openJob({ n: 1 }))).toThrow(expect.objectContaining({ code: 'INVALID_JOB' }));
    expect(() => videoStatepoint(workspace.openJob({ source: 'a.mp4', minArea: -1 }))).toThrow(/minArea: "-1"/);
  });

  it('detector tasks come from the job document, else the default', () => {
    const job = workspace.openJob({ source: 'b.mp4' }).init();
    expect(jobDetectorTasks(job)).toBe(DEFAULT_DETECTOR_TASKS);
    job.doc.set('detectorTasks', 3);
    expect(jobDetectorTasks(job)).toBe(3);
    job.doc.set('detectorTasks', 'many');
    expect(jobDetectorTasks(job)).toBe(DEFAULT_DETECTOR_TASKS);
  });
});
