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
