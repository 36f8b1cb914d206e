/** One decoded video frame: `height` rows of `width` pixels, 3 bytes each (R, G, B). */
export interface VideoFrame {
  /** Position of the frame in its video, from 0. */
  readonly index: number;
  readonly width: number;
  readonly height: number;
  /** RGB24 pixels, row by row: `width × height × 3` bytes. */
  readonly data: Uint8Array;
}

/** Bytes of one RGB24 frame of this size. */
export function rgbFrameBytes(width: number, height: number): number {
  return width * height * 3;
}
