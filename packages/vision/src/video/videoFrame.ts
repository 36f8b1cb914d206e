import { VfError } from '@vf/core';

/**
 * One video frame: `height` rows of `width` pixels, `channels` bytes each, row by row, with where
 * the frame sits in its stream. Every reader of `@vf/vision` emits RGB (`channels: 3`); transformers
 * keep the channel count they are given (1 grey, 3 RGB, 4 RGBA).
 *
 * It crosses processes as a raw frame: vf sends a typed array as its bytes plus a `{ dtype, shape }`
 * header, never as JSON, so a 1080p frame costs one copy into the transport and nothing more.
 *
 * @example
 * ```ts
 * const frame: VideoFrame = { index: 0, timestampMs: 0, width: 2, height: 1, channels: 3, data: new Uint8Array(6) };
 * ```
 */
export interface VideoFrame {
  /** Position of the frame in its stream, from 0 (dropped or skipped frames leave gaps). */
  readonly index: number;
  /**
   * Presentation time from the start of the stream, in ms: `index / fps` for files, `fps` being the
   * file's average frame rate (so a variable-rate file's frames are spread evenly over its duration),
   * time since the first frame for live streams. Writers place frames by it.
   */
  readonly timestampMs: number;
  readonly width: number;
  readonly height: number;
  /** Bytes per pixel: 3 (R, G, B) from the readers. */
  readonly channels: number;
  /** `width × height × channels` bytes, row by row. */
  readonly data: Uint8Array;
}

/** Bytes of one RGB24 frame of this size. */
export function rgbFrameBytes(width: number, height: number): number {
  return width * height * 3;
}

/**
 * Throws `VfError` `INVALID_FRAME`, naming `node` and the frame, unless `frame` is a
 * {@link VideoFrame} a node can read: integer `width` and `height` ≥ 0, 1, 3 or 4 `channels`, and
 * `data` a `Uint8Array` of exactly `width × height × channels` bytes. A node checks before it
 * reads, so a malformed frame fails with what is wrong with it rather than deep in a library (a
 * short `data`, a 2-channel frame).
 */
export function checkVideoFrame(node: string, frame: VideoFrame): void {
  const { width, height, channels, data } = (frame ?? {}) as Partial<VideoFrame>;
  let problem: string | undefined;
  if (typeof frame !== 'object' || frame === null) problem = `is ${String(frame)}, not a VideoFrame`;
  else if (!(Number.isSafeInteger(width) && Number.isSafeInteger(height) && (width as number) >= 0 && (height as number) >= 0)) {
    problem = `is ${String(width)}×${String(height)} (integers ≥ 0 expected)`;
  } else if (!(channels === 1 || channels === 3 || channels === 4)) problem = `has ${String(channels)} channels (1, 3 or 4)`;
  else if (!(data instanceof Uint8Array)) problem = `has data that is not a Uint8Array`;
  else if (data.length !== (width as number) * (height as number) * channels) {
    problem = `has ${data.length} bytes of data, not ${width}×${height}×${channels}`;
  }
  if (problem === undefined) return;
  const index = typeof frame === 'object' && frame !== null ? String(frame.index) : '?';
  throw new VfError('INVALID_FRAME', `${node}: frame ${index} ${problem}`, { details: { node, frame: index } });
}
