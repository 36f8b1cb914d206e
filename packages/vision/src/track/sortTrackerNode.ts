import { OneTaskProcessorNode, type ProcessorOptions } from '@vf/core';
import type { FrameDetections } from '../detect/objectDetector.js';
import { optionsObject } from '../options.js';
import { checkSortTrackerOptions, SortTracker, type SortTrackerOptions, type Track } from './sortTracker.js';

/** What the tracker emits per frame: the detections and the tracks matched in the frame. */
export interface TrackedFrame extends FrameDetections {
  readonly tracks: readonly Track[];
}

/** Options of {@link SortTrackerNode}. */
export type SortTrackerNodeOptions = Omit<ProcessorOptions, 'nbTasks'> & SortTrackerOptions;

/**
 * A SORT tracker ({@link SortTracker}: Kalman filter + Hungarian IoU assignment) as a flow node. It
 * keeps state from frame to frame, so it is a `OneTaskProcessorNode`: one task sees every frame, in order.
 * Frames missing from the sequence (a realtime engine's drops) advance its motion model by the gap
 * in `index`, so tracks survive drops shorter than `maxAge` frames.
 */
export class SortTrackerNode extends OneTaskProcessorNode<[FrameDetections], TrackedFrame> {
  readonly #tracker: SortTracker;

  constructor(options: SortTrackerNodeOptions = {}) {
    const { maxAge, minHits, iouThreshold, matchLabels, ...processorOptions } = optionsObject(new.target.name, options, '{ maxAge?, ... }');
    super(processorOptions);
    checkSortTrackerOptions(this.name, options); // errors name the node, not the SortTracker inside it
    this.#tracker = new SortTracker({
      ...(maxAge === undefined ? {} : { maxAge }),
      ...(minHits === undefined ? {} : { minHits }),
      ...(iouThreshold === undefined ? {} : { iouThreshold }),
      ...(matchLabels === undefined ? {} : { matchLabels }),
    });
  }

  process(frame: FrameDetections): TrackedFrame {
    return { ...frame, tracks: this.#tracker.update(frame.detections, frame.index) };
  }
}
