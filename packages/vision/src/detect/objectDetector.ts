import { FlowValidationError, ProcessorNode, type ProcessorOptions } from '@vf/core';
import { checkOption, numberIn, optionsObject } from '../options.js';
import { checkVideoFrame, type VideoFrame } from '../video/videoFrame.js';
import type { Detection } from './box.js';

/** What a detector emits per frame: the frame's identity and the objects found in it (no pixels). */
export interface FrameDetections {
  readonly index: number;
  readonly timestampMs: number;
  readonly width: number;
  readonly height: number;
  readonly detections: readonly Detection[];
  /**
   * What computed them, as the detector's task really ran it, e.g. `'tensorflow.js wasm'` or
   * `'tensorflow.js tensorflow (@tensorflow/tfjs-node-gpu)'`: the report's device column says where
   * vf placed the task, this says which backend the model found there.
   */
  readonly backend?: string;
}

/** Options of {@link ObjectDetector}. */
export interface ObjectDetectorOptions extends ProcessorOptions {
  /** Detections scoring below this are dropped (0–1). Default 0.3. */
  readonly minScore?: number;
  /** Keep only these labels (e.g. `['person', 'car']`). Default: all. */
  readonly labels?: readonly string[];
}

/**
 * Base of the object detectors: a stateless processor from {@link VideoFrame} to
 * {@link FrameDetections}. A subclass loads its model in `open()` (each replica of an `nbTasks > 1`
 * detector runs in its own process and loads its own) and implements {@link ObjectDetector.detect};
 * the base filters by `minScore` and `labels` and stamps the frame's identity and the backend.
 *
 * @example
 * ```ts
 * class Everything extends ObjectDetector {
 *   detect(frame: VideoFrame): Detection[] {
 *     return [{ x: 0, y: 0, w: frame.width, h: frame.height, label: 'frame', score: 1 }];
 *   }
 * }
 * ```
 */
export abstract class ObjectDetector extends ProcessorNode<[VideoFrame], FrameDetections> {
  readonly minScore: number;
  readonly labels: ReadonlySet<string> | undefined;

  constructor(options: ObjectDetectorOptions = {}) {
    const { minScore, labels, ...processorOptions } = optionsObject(new.target.name, options, '{ minScore?, labels?, ... }');
    super(processorOptions);
    checkOption(this.name, options, 'minScore', numberIn(0, 1));
    // An empty list would filter out every detection.
    if (
      labels !== undefined &&
      !(Array.isArray(labels) && labels.length > 0 && labels.every((label) => typeof label === 'string' && label !== ''))
    ) {
      throw new FlowValidationError(
        'INVALID_OPTION',
        `${this.name}: labels must be a non-empty array of label names, got ${String(labels)}`,
        {
          details: { node: this.name, option: 'labels', value: String(labels) },
        },
      );
    }
    this.minScore = minScore ?? 0.3;
    this.labels = labels === undefined ? undefined : new Set(labels);
  }

  /** The objects in `frame`, in its pixel coordinates (the base filters them afterwards). */
  abstract detect(frame: VideoFrame): Promise<readonly Detection[]> | readonly Detection[];

  /** What runs the model in this task (after `open()`), for {@link FrameDetections.backend}. */
  get backend(): string | undefined {
    return undefined;
  }

  async process(frame: VideoFrame): Promise<FrameDetections> {
    checkVideoFrame(this.name, frame);
    const found = await this.detect(frame);
    const detections = found.filter((detection) => detection.score >= this.minScore && (this.labels?.has(detection.label) ?? true));
    const backend = this.backend;
    return {
      index: frame.index,
      timestampMs: frame.timestampMs,
      width: frame.width,
      height: frame.height,
      detections,
      ...(backend === undefined ? {} : { backend }),
    };
  }
}
