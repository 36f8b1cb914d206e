import { ProcessorNode, type ProcessorOptions } from '@vf/core';
import type { VideoFrame } from '../src/video/videoFrame.js';
import { drawTrack } from '../src/vision/draw.js';
import type { TrackedFrame } from './sortTrackerNode.js';

/**
 * Draws each confirmed track of a frame on the frame: a box in the track's colour around the
 * matched detection and a `#id` label. Wired to the frames and to the tracker, which vf aligns by
 * origin: the k-th frame meets the k-th tracking result. Draws on a copy, since in one process the
 * frame object is shared with the detector.
 */
export class TrackAnnotator extends ProcessorNode<[VideoFrame, TrackedFrame], VideoFrame> {
  constructor(options: Omit<ProcessorOptions, 'nbTasks'> = {}) {
    super(options);
  }

  process(frame: VideoFrame, tracked: TrackedFrame): VideoFrame {
    if (frame.index !== tracked.index) {
      throw new Error(`${this.name}: frame ${frame.index} was aligned with the tracks of frame ${tracked.index}`);
    }
    const canvas = { width: frame.width, height: frame.height, data: frame.data.slice() };
    for (const track of tracked.tracks) if (track.confirmed) drawTrack(canvas, track.detection, track.id);
    return { ...frame, data: canvas.data };
  }
}
