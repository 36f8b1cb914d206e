import { ProcessorNode, type ProcessorOptions } from '@vf/core';
import type { FrameDetections } from '../detect/objectDetector.js';
import { boolean, checkOption, optionsObject } from '../options.js';
import type { VideoFrame } from '../video/videoFrame.js';
import { annotationCanvas, drawLabelledBox, labelColor, strokeBox } from './draw.js';

/** Options of {@link BoxAnnotator}. */
export interface BoxAnnotatorOptions extends ProcessorOptions {
  /** Write the label on a tab above each box. Default true. */
  readonly showLabel?: boolean;
  /** Write the score after the label, as a percentage. Default true. */
  readonly showScore?: boolean;
}

/**
 * Draws a detector's boxes on their frame: each box in its class's colour ({@link labelColor}) with
 * a `PERSON 87%` tab. Wired to the frames and to the detector (vf aligns them by origin); draws on a
 * copy of the frame. Stateless, so it may be replicated.
 *
 * @example
 * ```ts
 * const boxes = new BoxAnnotator({ name: 'boxes' }).from(video, detector);
 * ```
 */
export class BoxAnnotator extends ProcessorNode<[VideoFrame, FrameDetections], VideoFrame> {
  readonly #showLabel: boolean;
  readonly #showScore: boolean;

  constructor(options: BoxAnnotatorOptions = {}) {
    const { showLabel, showScore, ...processorOptions } = optionsObject(new.target.name, options, '{ showLabel?, showScore?, ... }');
    super(processorOptions);
    checkOption(this.name, options, 'showLabel', boolean);
    checkOption(this.name, options, 'showScore', boolean);
    this.#showLabel = showLabel ?? true;
    this.#showScore = showScore ?? true;
  }

  process(frame: VideoFrame, found: FrameDetections): VideoFrame {
    const canvas = annotationCanvas(this.name, frame, found.index, 'detections');
    for (const detection of found.detections) {
      const color = labelColor(detection.label);
      if (!this.#showLabel) {
        strokeBox(canvas, detection, color);
        continue;
      }
      const text = this.#showScore ? `${detection.label} ${Math.round(detection.score * 100)}%` : detection.label;
      drawLabelledBox(canvas, detection, text, color);
    }
    return { ...frame, data: canvas.data };
  }
}
