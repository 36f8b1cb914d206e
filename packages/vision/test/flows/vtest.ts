import { defineFlow, Flow } from '@vf/core';
import {
  CameraSource,
  CocoDetector,
  SortTrackerNode,
  TrackAnnotator,
  TrackCounter,
  VideoFileReader,
  VideoFileWriter,
} from '../../src/index.js';

/** Parameters of the test flow on real footage. */
export interface VtestParams {
  readonly input: string;
  readonly output: string;
  readonly counts: string;
  readonly frames: number;
  readonly fps: number;
  readonly detectorTasks: number;
  /** Play the input at `fps` like a camera (realtime engine). */
  readonly camera: boolean;
}

/** video ─┬─► COCO detector ×N ─► tracker ─┬─► annotator ─► writer;  tracker ─► counter. */
export default defineFlow((params: VtestParams) => {
  const video = params.camera
    ? new CameraSource({ name: 'video', path: params.input, fps: params.fps, maxFrames: params.frames })
    : new VideoFileReader({ name: 'video', path: params.input, maxFrames: params.frames });
  const detector = new CocoDetector({ name: 'detector', nbTasks: params.detectorTasks, labels: ['person'] }).from(video);
  const tracker = new SortTrackerNode({ name: 'tracker' }).from(detector);
  const annotator = new TrackAnnotator({ name: 'annotator' }).from(video, tracker);
  const writer = new VideoFileWriter({ name: 'writer', path: params.output, fps: params.fps }).from(annotator);
  const counter = new TrackCounter({ name: 'counter', path: params.counts }).from(tracker);
  return new Flow([video], [writer, counter]);
});
