import { readFileSync, renameSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import type { JsonValue } from '@vf/core';
import { detectGpus } from '@vf/gpu';
import { GroupsError, type Job, type OperationFunction, writeFileAtomic } from '@vf/groups';
import type { FrameDetections, TrackSpan } from '@vf/vision';
import { assertFileExists, type VideoInfo } from '@vf/vision';
import type { DetectParams } from '../../flows/detect.js';
import { type NodeSummary, summarizeNodes } from '../analyzeVideo.js';
import { flowModuleUrl } from '../appPaths.js';
import { trackDetections } from '../vision/trackDetections.js';
import { JOB_FILES, jobDetectorTasks, type VideoParameters, videoPath, videoStatepoint } from './videoJobs.js';

/** The detection flow module the `detect` operation runs (rebuilt by every task process). */
export const DETECT_FLOW = flowModuleUrl('detect');

/** What `detect` records in the job document under `detect`: how the flow ran. */
export interface DetectRecord {
  /** The flow's run time, from `flow.run()` to the last task's exit. */
  readonly flowMs: number;
  /** Where each detector task ran: `gpu:<id>`, or `cpu` (no GPU in the budget, or none free). */
  readonly detectorDevices: readonly string[];
  /** The bottleneck table. */
  readonly nodes: readonly NodeSummary[];
}

/** What `track` records in the job document under `track`. */
export interface TrackRecord {
  readonly frames: number;
  readonly detections: number;
  /** Most confirmed tracks in one frame: objects on screen at once. */
  readonly objects: number;
  /** Distinct confirmed tracks: the objects counted. */
  readonly tracks: number;
  readonly spans: readonly TrackSpan[];
}

/** What `summarize` writes to `summary.json` and to the job document under `summary`. */
export interface VideoJobSummary {
  readonly job: string;
  readonly source: string;
  readonly parameters: VideoParameters;
  readonly video: VideoInfo | null;
  readonly detectorTasks: number;
  readonly frames: number;
  readonly detections: number;
  readonly objects: number;
  readonly tracks: number;
  readonly trackSpans: readonly TrackSpan[];
  readonly detect: DetectRecord;
}

/** Where the operations say what they did. */
export type LogLine = (line: string) => void;

const label = (job: Job): string => `job ${job.id.slice(0, 8)} (${basename(videoStatepoint(job).source)})`;

/**
 * `detect`: runs the detection flow (`flows/detect.ts`: video → detector ×N → detections) on the
 * job's video through `context.runFlow`, so the flow gets the group's `np`/`ngpu` budget: the
 * project's allocator hands the detector at most `ngpu` GPUs, and on a machine without one the
 * detector (a GPU-preferring node, not a GPU-only one) runs on the CPU. The flow writes to a
 * temporary file, renamed to `detections.jsonl` only once the flow completed: the file's presence
 * (the post-condition) then means the whole video was processed.
 */
export function detectOperation(root: string, log: LogLine): OperationFunction {
  return async (job, context) => {
    const statepoint = videoStatepoint(job);
    const input = videoPath(root, statepoint);
    // Fails before any process starts, naming the file (VIDEO_NOT_FOUND).
    assertFileExists(input);
    const partial = job.fn(`${JOB_FILES.detections}.partial`);
    const params: DetectParams = {
      input,
      output: partial,
      detectorTasks: jobDetectorTasks(job),
      threshold: statepoint.threshold,
      minArea: statepoint.minArea,
      // A GPU of the operation's budget that this machine has, else the CPU from the start.
      detectorDevice:
        (await detectGpus({ env: { ...process.env, CUDA_VISIBLE_DEVICES: context.budget.cudaVisibleDevices } })).length > 0 ? 'gpu' : 'cpu',
    };
    try {
      const report = await context.runFlow(DETECT_FLOW, params);
      if (report.status !== 'completed') {
        throw new GroupsError(
          'OPERATION_FAILED',
          `the detection flow ${report.status === 'failed' ? 'failed' : `was ${report.status}`}${report.error === undefined ? '' : `: ${report.error.message}`}`,
          { cause: report.error, details: { status: report.status } },
        );
      }
      const record: DetectRecord = {
        flowMs: Math.round(report.durationMs),
        detectorDevices: report.nodes.find((node) => node.name === 'detector')?.device ?? [],
        nodes: summarizeNodes(report),
      };
      // The record first, the file last: the file is what marks the operation complete.
      job.doc.set('detect', toJson(record));
      renameSync(partial, job.fn(JOB_FILES.detections));
      const frames = record.nodes.find((node) => node.name === 'detections')?.processed ?? 0;
      log(
        `detect  ${label(job)}: ${frames} frames in ${(record.flowMs / 1000).toFixed(1)} s, ` +
          `detector on ${describeDevices(record.detectorDevices)} (budget: np ${context.budget.np}, ngpu ${context.budget.ngpu})`,
      );
    } finally {
      rmSync(partial, { force: true });
    }
  };
}

/**
 * `track`: SORT over the detections, with the job's tracker parameters ({@link trackDetections}):
 * writes `tracks.jsonl` (the confirmed tracks of each frame) and the counts under `track` in the
 * job document. Cheap (no video decoding), so it runs in the `run` process, not as a flow.
 */
export function trackOperation(log: LogLine): OperationFunction {
  return (job) => {
    const { maxAge, minHits, iouThreshold } = videoStatepoint(job);
    const frames = readJsonLines<FrameDetections>(job.fn(JOB_FILES.detections));
    const { frames: tracked, counts } = trackDetections(frames, { maxAge, minHits, iouThreshold });
    const record: TrackRecord = {
      frames: counts.frames,
      detections: counts.detections,
      objects: counts.maxObjectsInFrame,
      tracks: counts.tracks,
      spans: counts.spans,
    };
    job.doc.set('track', toJson(record));
    writeFileAtomic(job.fn(JOB_FILES.tracks), tracked.map((frame) => `${JSON.stringify(frame)}\n`).join(''));
    log(`track   ${label(job)}: ${record.tracks} track(s), at most ${record.objects} on screen, over ${record.frames} frames`);
  };
}

/**
 * `summarize`: the job's results in one document ({@link VideoJobSummary}), written to
 * `summary.json` and to the job document under `summary` (the post-condition), so `status -d` and
 * scripts reading job documents see it.
 */
export function summarizeOperation(log: LogLine): OperationFunction {
  return (job) => {
    const statepoint = videoStatepoint(job);
    const detect = job.doc.get('detect') as DetectRecord | undefined;
    const track = job.doc.get('track') as TrackRecord | undefined;
    if (detect === undefined || track === undefined) {
      throw new GroupsError(
        'INVALID_JOB',
        `job ${job.id} has no ${detect === undefined ? 'detect' : 'track'} record: run detect and track first`,
      );
    }
    const { source, ...parameters } = statepoint;
    const summary: VideoJobSummary = {
      job: job.id,
      source,
      parameters,
      video: (job.doc.get('video') as VideoInfo | undefined) ?? null,
      detectorTasks: jobDetectorTasks(job),
      frames: track.frames,
      detections: track.detections,
      objects: track.objects,
      tracks: track.tracks,
      trackSpans: track.spans,
      detect,
    };
    writeFileAtomic(job.fn(JOB_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
    job.doc.set('summary', toJson(summary));
    log(`summary ${label(job)}: ${summary.tracks} object(s) counted → ${job.fn(JOB_FILES.summary)}`);
  };
}

/** Devices of a node's tasks in short: `cpu ×2`, `gpu:0, cpu`. */
export function describeDevices(devices: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const device of devices) counts.set(device, (counts.get(device) ?? 0) + 1);
  return [...counts].map(([device, count]) => (count > 1 ? `${device} ×${count}` : device)).join(', ') || 'no task';
}

/** The values of a JSON Lines file; throws naming the file and line for one that is not JSON. */
export function readJsonLines<T>(file: string): T[] {
  const values: T[] = [];
  for (const [index, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line) as T);
    } catch (error) {
      throw new Error(`${file}:${index + 1}: not JSON (${(error as Error).message})`);
    }
  }
  return values;
}

/** Records are plain JSON-shaped interfaces; the job document wants a `JsonValue`. */
function toJson(value: object): JsonValue {
  return value as unknown as JsonValue;
}
