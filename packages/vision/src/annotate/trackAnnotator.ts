import { ProcessorNode, type ProcessorOptions } from '@vf/core';
import { boolean, checkOption, optionsObject } from '../options.js';
import type { TrackedFrame } from '../track/sortTrackerNode.js';
import type { VideoFrame } from '../video/videoFrame.js';
import { annotationCanvas, drawTrack } from './draw.js';

/** Options of {@link TrackAnnotator}. */
export interface TrackAnnotatorOptions extends ProcessorOptions {
  /** Write the track's class after its id (`#3 PERSON`). Default true. */
  readonly showLabel?: boolean;
}

/**
 * Draws each confirmed track of a frame on the frame: a box in the track's colour around the
 * matched detection and a `#id label` tab. Wired to the frames and to the tracker, which vf aligns
 * by origin: the k-th frame meets the k-th tracking result. Draws on a copy, since in one process
 * the frame object is shared with the detector.
 *
 * @example
 * ```ts
 * const annotator = new TrackAnnotator({ name: 'annotator' }).from(video, tracker);
 * ```
 */
export class TrackAnnotator extends ProcessorNode<[VideoFrame, TrackedFrame], VideoFrame> {
  readonly #showLabel: boolean;

  constructor(options: TrackAnnotatorOptions = {}) {
    const { showLabel, ...processorOptions } = optionsObject(new.target.name, options, '{ showLabel?, ... }');
    super(processorOptions);
    checkOption(this.name, options, 'showLabel', boolean);
    this.#showLabel = showLabel ?? true;
  }

  process(frame: VideoFrame, tracked: TrackedFrame): VideoFrame {
    const canvas = annotationCanvas(this.name, frame, tracked.index, 'tracks');
    for (const track of tracked.tracks) {
      if (track.confirmed) drawTrack(canvas, track.detection, track.id, 2, this.#showLabel ? track.label : undefined);
    }
    return { ...frame, data: canvas.data };
  }
}
