import { defineFlow, Flow } from '@vf/core';
import { CocoDetector, SortTrackerNode, TrackCounter, VideoFileReader } from '@vf/vision';

/** video ─► COCO detector ×N ─► tracker ─► counter: the demo's analysis without the MP4. */
export default defineFlow((params: { input: string; frames: number; detectorTasks: number }) => {
  const video = new VideoFileReader({ name: 'video', path: params.input, maxFrames: params.frames });
  const detector = new CocoDetector({ name: 'detector', nbTasks: params.detectorTasks }).from(video);
  const tracker = new SortTrackerNode({ name: 'tracker' }).from(detector);
  const counter = new TrackCounter({ name: 'counter' }).from(tracker);
  return new Flow([video], [counter]);
});
