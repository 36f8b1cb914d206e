import { defineFlow, Flow } from '@vf/core';
import { VideoFileReader } from '@vf/vision';
import { DetectionsWriter, MovingObjectDetector } from '../nodes/index.js';

/** Parameters of the detection flow (JSON: every task process rebuilds the flow from them). */
export interface DetectParams {
  /** The video to analyse. */
  readonly input: string;
  /** The JSON Lines file the per-frame detections go to. */
  readonly output: string;
  /** Replicas of the detector. */
  readonly detectorTasks: number;
  /** Foreground threshold of the detector (0–255). */
  readonly threshold: number;
  /** Smallest object in foreground pixels. */
  readonly minArea: number;
  /** Where the detector asks to run: `'gpu'` (the default) only where a GPU is visible. */
  readonly detectorDevice?: 'cpu' | 'gpu';
}

/** Task processes the detection flow runs: the reader, the detector replicas, the writer. */
export function detectFlowTasks(detectorTasks: number): number {
  return detectorTasks + 2;
}

/**
 * Detection only, for the demo project's `detect` operation (tracking is the next operation, so it
 * can be re-run with other tracker settings without decoding the video again):
 *
 * ```
 * video ─► detector ×N ─► detections (JSON Lines, one frame a line)
 * ```
 */
export default defineFlow((params: DetectParams) => {
  const video = new VideoFileReader({ name: 'video', path: params.input });
  const detector = new MovingObjectDetector({
    name: 'detector',
    nbTasks: params.detectorTasks,
    background: params.input,
    threshold: params.threshold,
    minArea: params.minArea,
    deviceType: params.detectorDevice ?? 'gpu',
  }).from(video);
  const detections = new DetectionsWriter({ name: 'detections', path: params.output }).from(detector);
  return new Flow([video], [detections]);
});
