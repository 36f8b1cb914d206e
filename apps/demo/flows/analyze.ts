import { defineFlow, Flow } from '@vf/core';
import { CameraSource, CocoDetector, SortTrackerNode, TrackAnnotator, TrackCounter, VideoFileReader, VideoFileWriter } from '@vf/vision';
import { MovingObjectDetector } from '../nodes/index.js';

/** The detectors the analysis flow can run. */
export const DETECTORS = ['coco', 'motion'] as const;
export type DetectorName = (typeof DETECTORS)[number];

import { FramePreview } from '../src/live/framePreview.js';

/** Parameters of the analysis flow (JSON: every task process rebuilds the flow from them). */
export interface AnalyzeParams {
  /** The video to analyse. */
  readonly input: string;
  /** The annotated MP4 to write. */
  readonly output: string;
  /** The JSON file the counts go to (`TrackCounts`: per class, per track, and the detector backends). */
  readonly counts: string;
  /** Frame rate of the input (for the output file, and the camera's pace). */
  readonly fps: number;
  /** Replicas of the detector. */
  readonly detectorTasks: number;
  /** Play the input like a camera, at `fps` (for the realtime engine), instead of as fast as possible. */
  readonly camera: boolean;
  /**
   * `coco`: the pretrained COCO detector (80 labelled classes, any camera); `motion`: background
   * subtraction (unlabelled moving blobs, static camera only). Default `motion`, what this flow ran
   * before `coco` existed: callers choose `coco` for real footage.
   */
  readonly detector?: DetectorName;
  /** COCO detections scoring below this are dropped (0–1). Default 0.3. */
  readonly minScore?: number;
  /** Keep only these COCO labels (e.g. `['person']`). Default: all. */
  readonly labels?: readonly string[];
  /** Where the detector asks to run: `'gpu'` (the default) only where a GPU is visible. */
  readonly detectorDevice?: 'cpu' | 'gpu';
  /** Read only this many frames of the input. Default: all. */
  readonly maxFrames?: number;
  /** With the live view: keep this JPEG the latest annotated frame (node `preview`). */
  readonly preview?: string;
}

/**
 * The demo's main job:
 *
 * ```
 * video ─┬─► detector ×N ─► tracker ─┬─► annotator ─► writer (annotated MP4, the input's timing)
 *        └───────────────────────────┘└─► counter   (counts per class and per track, JSON)
 * ```
 */
export default defineFlow((params: AnalyzeParams) => {
  const limit = params.maxFrames === undefined ? {} : { maxFrames: params.maxFrames };
  const video = params.camera
    ? new CameraSource({ name: 'video', path: params.input, fps: params.fps, ...limit })
    : new VideoFileReader({ name: 'video', path: params.input, ...limit });
  const device = params.detectorDevice ?? 'gpu';
  const detector =
    params.detector === 'coco'
      ? new CocoDetector({
          name: 'detector',
          nbTasks: params.detectorTasks,
          deviceType: device,
          ...(params.minScore === undefined ? {} : { minScore: params.minScore }),
          ...(params.labels === undefined ? {} : { labels: params.labels }),
        }).from(video)
      : new MovingObjectDetector({ name: 'detector', nbTasks: params.detectorTasks, background: params.input, deviceType: device }).from(
          video,
        );
  const tracker = new SortTrackerNode({ name: 'tracker' }).from(detector);
  const annotator = new TrackAnnotator({ name: 'annotator', showLabel: params.detector === 'coco' }).from(video, tracker);
  // Frames a realtime engine drops are filled in from their timestamps, so the output plays at the input's pace.
  const writer = new VideoFileWriter({ name: 'writer', path: params.output, fps: params.fps }).from(annotator);
  const counter = new TrackCounter({ name: 'counter', path: params.counts }).from(tracker);
  const preview = params.preview === undefined ? [] : [new FramePreview({ name: 'preview', path: params.preview }).from(annotator)];
  return new Flow([video], [writer, counter, ...preview]);
});
