import { FlowValidationError, ProcessorNode, type ProcessorOptions } from '@vf/core';
import type { Box } from '../detect/box.js';
import { checkOption, type OptionRule, optionsObject } from '../options.js';
import { checkVideoFrame, type VideoFrame } from '../video/videoFrame.js';

/** A crop box: finite `x`, `y` and a positive width and height (a NaN corner made frames of width NaN). */
const cropBox: OptionRule = {
  test: (value) => {
    if (typeof value !== 'object' || value === null) return false;
    const { x, y, w, h } = value as Partial<Box>;
    const finite = [x, y, w, h].every((side) => typeof side === 'number' && Number.isFinite(side));
    return finite && (w as number) > 0 && (h as number) > 0;
  },
  must: 'a box { x, y, w, h } of finite numbers with a positive width and height',
};

/**
 * The part of `frame` inside `box` (rounded to whole pixels, clipped to the frame) as a new frame
 * with the same index, timestamp and channels. A box entirely outside gives a 0×0 frame.
 */
export function cropFrame(frame: VideoFrame, box: Box): VideoFrame {
  const x0 = Math.max(0, Math.min(frame.width, Math.round(box.x)));
  const y0 = Math.max(0, Math.min(frame.height, Math.round(box.y)));
  const x1 = Math.max(x0, Math.min(frame.width, Math.round(box.x + box.w)));
  const y1 = Math.max(y0, Math.min(frame.height, Math.round(box.y + box.h)));
  const { channels } = frame;
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Uint8Array(width * height * channels);
  const rowBytes = width * channels;
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * frame.width + x0) * channels;
    data.set(frame.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { ...frame, width, height, data };
}

/**
 * `frame` scaled to `width × height` by bilinear interpolation (pixel centres aligned, as OpenCV's
 * `INTER_LINEAR`), channels kept.
 */
export function resizeFrame(frame: VideoFrame, width: number, height: number): VideoFrame {
  const { channels } = frame;
  const data = new Uint8Array(width * height * channels);
  const sx = frame.width / width;
  const sy = frame.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(frame.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(frame.height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(frame.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(frame.width - 1, x0 + 1);
      const wx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const at = (row: number, column: number) => frame.data[(row * frame.width + column) * channels + c] as number;
        const top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx;
        const bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx;
        data[(y * width + x) * channels + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return { ...frame, width, height, data };
}

/** Options of {@link CropTransformer}. */
export interface CropTransformerOptions extends ProcessorOptions {
  /** The region to keep, in pixels of the input frames. */
  readonly box: Box;
}

/**
 * Keeps one region of every frame ({@link cropFrame}), e.g. the part of a camera's view that
 * matters, before a detector. Stateless, so it may be replicated.
 */
export class CropTransformer extends ProcessorNode<[VideoFrame], VideoFrame> {
  readonly box: Box;

  constructor(options: CropTransformerOptions) {
    const { box, ...processorOptions } = optionsObject(new.target.name, options, '{ box, ... }');
    super(processorOptions);
    checkOption(this.name, options, 'box', cropBox, true);
    this.box = box;
  }

  process(frame: VideoFrame): VideoFrame {
    checkVideoFrame(this.name, frame);
    return cropFrame(frame, this.box);
  }
}

/** Options of {@link ResizeTransformer}. */
export interface ResizeTransformerOptions extends ProcessorOptions {
  /** Output width in pixels. */
  readonly width: number;
  /** Output height in pixels. */
  readonly height: number;
}

/** Scales every frame to `width × height` ({@link resizeFrame}, bilinear). Stateless, so it may be replicated. */
export class ResizeTransformer extends ProcessorNode<[VideoFrame], VideoFrame> {
  readonly width: number;
  readonly height: number;

  constructor(options: ResizeTransformerOptions) {
    const { width, height, ...processorOptions } = optionsObject(new.target.name, options, '{ width, height, ... }');
    super(processorOptions);
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
      throw new FlowValidationError('INVALID_OPTION', `${this.name}: width and height must be positive integers (got ${width}×${height})`);
    }
    this.width = width;
    this.height = height;
  }

  process(frame: VideoFrame): VideoFrame {
    checkVideoFrame(this.name, frame);
    return resizeFrame(frame, this.width, this.height);
  }
}
