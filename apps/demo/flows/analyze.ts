import { defineFlow, Flow } from '@vf/core';
import {
  CameraSource,
  MovingObjectDetector,
  SortTrackerNode,
  TrackAnnotator,
  TrackCounter,
  VideoFileReader,
  VideoFileWriter,
} from '../nodes/index.js';
import { FramePreview } from '../src/live/framePreview.js';

/** Parameters of the analysis flow (JSON: every task process rebuilds the flow from them). */
export interface AnalyzeParams {
  /** The video to analyse. */
  readonly input: string;
  /** The annotated MP4 to write. */
  readonly output: string;
  /** The JSON file the track counts go to. */
  readonly counts: string;
  /** Frame rate of the input (for the output file, and the camera's pace). */
  readonly fps: number;
  /** Replicas of the detector. */
  readonly detectorTasks: number;
  /** Play the input like a camera, at `fps` (for the realtime engine), instead of as fast as possible. */
  readonly camera: boolean;
  /** With the live view: keep this JPEG the latest annotated frame (node `preview`). */
  readonly preview?: string;
}

/**
 * The demo's main job:
 *
 * ```
 * video ─┬─► detector ×N ─► tracker ─┬─► annotator ─► writer (annotated MP4)
 *        └───────────────────────────┘└─► counter   (track counts, JSON)
 * ```
 */
export default defineFlow((params: AnalyzeParams) => {
  const video = params.camera
    ? new CameraSource({ name: 'video', path: params.input, fps: params.fps })
    : new VideoFileReader({ name: 'video', path: params.input });
  const detector = new MovingObjectDetector({ name: 'detector', nbTasks: params.detectorTasks, background: params.input }).from(video);
  const tracker = new SortTrackerNode({ name: 'tracker' }).from(detector);
  const annotator = new TrackAnnotator({ name: 'annotator' }).from(video, tracker);
  const writer = new VideoFileWriter({ name: 'writer', path: params.output, fps: params.fps }).from(annotator);
  const counter = new TrackCounter({ name: 'counter', path: params.counts }).from(tracker);
  const preview = params.preview === undefined ? [] : [new FramePreview({ name: 'preview', path: params.preview }).from(annotator)];
  return new Flow([video], [writer, counter, ...preview]);
});
