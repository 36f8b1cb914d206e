import { existsSync, mkdirSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { type FlowProject, GroupsError, type Job } from '@vf/groups';
import { probeVideo, type VideoInfo } from '@vf/vision';
import { generateSampleVideo, type SampleVideoOptions } from '../video/sampleVideo.js';

/**
 * The analysis parameters of a job. They change the results, so they are part of its state point
 * (its identity): the same video with another threshold is another job.
 */
export interface VideoParameters {
  /** Detector: a pixel is foreground when a channel differs from the background by more than this (0–255). */
  readonly threshold: number;
  /** Detector: smallest object, in foreground pixels. */
  readonly minArea: number;
  /** Tracker: frames a track survives without a match. */
  readonly maxAge: number;
  /** Tracker: consecutive matches before a track counts. */
  readonly minHits: number;
  /** Tracker: smallest IoU between a prediction and a detection for a match. */
  readonly iouThreshold: number;
}

/** A job's state point: the video and the analysis parameters. */
export interface VideoStatepoint extends VideoParameters {
  /**
   * The video: relative to the project root when it lies inside it (generated samples do), so the
   * project folder can move (e.g. to a cluster's file system); else an absolute path. See {@link videoPath}.
   */
  readonly source: string;
}

/** The parameters' values when none are given (those of the demo's main job). */
export const DEFAULT_VIDEO_PARAMETERS: VideoParameters = { threshold: 40, minArea: 120, maxAge: 5, minHits: 3, iouThreshold: 0.2 };

/** Values to try per parameter: one job per combination (a missing or empty list means the default). */
export type ParameterGrid = { readonly [TName in keyof VideoParameters]?: readonly number[] };

const PARAMETER_RULES: { readonly [TName in keyof VideoParameters]: { integer: boolean; min: number; max: number } } = {
  threshold: { integer: false, min: 0, max: 255 },
  minArea: { integer: true, min: 1, max: Number.MAX_SAFE_INTEGER },
  maxAge: { integer: true, min: 1, max: Number.MAX_SAFE_INTEGER },
  minHits: { integer: true, min: 1, max: Number.MAX_SAFE_INTEGER },
  iouThreshold: { integer: false, min: Number.MIN_VALUE, max: 1 },
};

/** The files a job's operations write, inside the job's folder. */
export const JOB_FILES = {
  /** `detect`: one line of JSON per frame, `{ index, width, height, detections }`. */
  detections: 'detections.jsonl',
  /** `track`: one line of JSON per frame, `{ index, tracks: [{ id, box }] }` (confirmed tracks). */
  tracks: 'tracks.jsonl',
  /** `summarize`: the job's summary (also in the job document under `summary`). */
  summary: 'summary.json',
} as const;

/** Detector replicas when `init` is given none. */
export const DEFAULT_DETECTOR_TASKS = 2;

/**
 * Parses a comma-separated list of values of parameter `name` (e.g. `30,40`). Throws `RangeError`
 * naming the parameter for a value that is not a number in its range.
 */
export function parseParameterList(name: keyof VideoParameters, text: string): number[] {
  const rule = PARAMETER_RULES[name];
  return text.split(',').map((word) => {
    const value = Number(word.trim());
    if (
      word.trim() === '' ||
      !Number.isFinite(value) ||
      (rule.integer && !Number.isInteger(value)) ||
      value < rule.min ||
      value > rule.max
    ) {
      const range =
        rule.max === Number.MAX_SAFE_INTEGER ? `≥ ${rule.min}` : `in ${rule.min > 0 && rule.min < 1 ? '(0' : `[${rule.min}`}, ${rule.max}]`;
      throw new RangeError(`${name}: "${word}" is not ${rule.integer ? 'an integer' : 'a number'} ${range}`);
    }
    return value;
  });
}

/** How a job names `file` (see {@link VideoStatepoint.source}): relative to `root` when inside it, else absolute. */
export function sourceName(root: string, file: string): string {
  const inside = relative(resolve(root), resolve(file));
  return inside !== '' && !inside.startsWith('..') && !isAbsolute(inside) ? inside : resolve(file);
}

/** The path of a job's video: its `source` resolved against the project root. */
export function videoPath(root: string, statepoint: Pick<VideoStatepoint, 'source'>): string {
  return resolve(root, statepoint.source);
}

/**
 * One state point per source and combination of parameter values, in a stable order (sources
 * first, then the parameters in {@link DEFAULT_VIDEO_PARAMETERS} order).
 */
export function statepointGrid(sources: readonly string[], grid: ParameterGrid = {}): VideoStatepoint[] {
  let combinations: VideoParameters[] = [DEFAULT_VIDEO_PARAMETERS];
  for (const name of Object.keys(DEFAULT_VIDEO_PARAMETERS) as (keyof VideoParameters)[]) {
    const values = grid[name] === undefined || grid[name].length === 0 ? [DEFAULT_VIDEO_PARAMETERS[name]] : [...new Set(grid[name])];
    combinations = combinations.flatMap((combination) => values.map((value) => ({ ...combination, [name]: value })));
  }
  return [...new Set(sources)].flatMap((source) => combinations.map((parameters) => ({ source, ...parameters })));
}

/**
 * The job's state point as a {@link VideoStatepoint}: parameters it lacks (a job made by hand, or
 * by an older demo) take their defaults. Throws `INVALID_JOB` without a `source` or with a
 * parameter out of range.
 */
export function videoStatepoint(job: Job): VideoStatepoint {
  const sp = job.sp as Record<string, unknown>;
  if (typeof sp.source !== 'string' || sp.source === '') {
    throw new GroupsError('INVALID_JOB', `job ${job.id} is not a video job: its state point has no "source"`, { details: { job: job.id } });
  }
  const parameters: { -readonly [TName in keyof VideoParameters]: number } = { ...DEFAULT_VIDEO_PARAMETERS };
  for (const name of Object.keys(DEFAULT_VIDEO_PARAMETERS) as (keyof VideoParameters)[]) {
    if (sp[name] === undefined) continue;
    try {
      parameters[name] = parseParameterList(name, String(sp[name]))[0] ?? DEFAULT_VIDEO_PARAMETERS[name];
    } catch (error) {
      throw new GroupsError('INVALID_JOB', `job ${job.id}: ${(error as Error).message}`, { details: { job: job.id } });
    }
  }
  return { source: sp.source, ...parameters };
}

/**
 * Detector replicas of a job: an execution setting, not part of its identity (N replicas give
 * exactly the detections of one), so it lives in the job document under `detectorTasks`.
 */
export function jobDetectorTasks(job: Job): number {
  const value = job.doc.get('detectorTasks');
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : DEFAULT_DETECTOR_TASKS;
}

/** Options of {@link addVideoJobs}. */
export interface AddVideoJobsOptions {
  /** Videos to add (paths; made absolute). */
  readonly videos?: readonly string[];
  /** Generate this many sample videos into `<root>/videos/` and add them too. */
  readonly samples?: number;
  /** Size, length and frame rate of the generated samples. */
  readonly sampleOptions?: SampleVideoOptions;
  /** Parameter values: one job per video and combination. */
  readonly grid?: ParameterGrid;
  /** Detector replicas to record in the jobs' documents (default: keep a job's own, else {@link DEFAULT_DETECTOR_TASKS}). */
  readonly detectorTasks?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** A job {@link addVideoJobs} added or found. */
export interface AddedJob {
  readonly job: Job;
  readonly statepoint: VideoStatepoint;
  /** False when the job existed already (same video, same parameters). */
  readonly created: boolean;
}

/**
 * Adds one job per video and parameter combination to the project (`vf-demo project init`). Every
 * video is probed first, so a missing or unreadable one (`VideoError`, naming it) adds nothing.
 * Adding a job again is harmless: same state point, same job. The video's size, frame rate and
 * length go into the job document (`video`), with `detectorTasks`.
 */
export async function addVideoJobs(project: FlowProject, options: AddVideoJobsOptions): Promise<AddedJob[]> {
  const log = options.log ?? (() => undefined);
  const videos = (options.videos ?? []).map((video) => resolve(video));
  if (videos.length === 0 && (options.samples ?? 0) === 0) {
    throw new GroupsError('USAGE', 'nothing to add: give video files, or --sample N to generate N sample videos');
  }
  const infos = new Map<string, VideoInfo>();
  for (const video of videos) infos.set(video, await probeVideo(video));
  if ((options.samples ?? 0) > 0) {
    const folder = join(project.root, 'videos');
    mkdirSync(folder, { recursive: true });
    for (let made = 0, index = 1; made < (options.samples ?? 0); index++) {
      const file = join(folder, `sample-${index}.mp4`);
      if (existsSync(file)) continue;
      const { frames } = await generateSampleVideo(file, options.sampleOptions);
      log(`generated sample video ${file} (${frames} frames)`);
      infos.set(file, await probeVideo(file));
      made++;
    }
  }
  const added: AddedJob[] = [];
  const names = new Map([...infos.keys()].map((file) => [sourceName(project.root, file), file]));
  for (const statepoint of statepointGrid([...names.keys()], options.grid)) {
    const job = project.openJob({ ...statepoint });
    const created = !job.exists;
    job.init();
    job.doc.update({
      video: { ...infos.get(names.get(statepoint.source)!)! },
      detectorTasks: options.detectorTasks ?? jobDetectorTasks(job),
    });
    added.push({ job, statepoint, created });
  }
  return added;
}
