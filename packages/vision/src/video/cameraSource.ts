import type { ProduceContext } from '@vf/core';
import { checkOption, integerFrom } from '../options.js';
import { VideoFileReader, type VideoFileReaderOptions } from './videoFileReader.js';
import type { VideoFrame } from './videoFrame.js';

/** Options of {@link CameraSource}. */
export interface CameraSourceOptions extends VideoFileReaderOptions {
  /** Frames per second the source emits at, like a camera. */
  readonly fps: number;
  /** Times the video is played, back to back (indices keep counting), a positive integer. Default 1. */
  readonly loops?: number;
}

/**
 * A camera stand-in for realtime flows: plays a video file at `fps` frames per second whatever the
 * flow downstream manages (the producer clock of `@vf/core` paces it and never bursts to catch
 * up), optionally looping it. With the realtime engine, slow nodes then see the freshest frames and
 * the rest is dropped, as with a live camera.
 */
export class CameraSource extends VideoFileReader {
  readonly #loops: number;

  constructor(options: CameraSourceOptions) {
    const { loops, ...readerOptions } = options;
    super(readerOptions);
    checkOption(this.name, options, 'loops', integerFrom(1));
    this.#loops = loops ?? 1;
  }

  override async *produce(_context: ProduceContext): AsyncGenerator<VideoFrame> {
    let next = 0;
    for (let loop = 0; loop < this.#loops; loop++) {
      for await (const frame of this.decode(next)) {
        yield frame;
        next = frame.index + 1;
      }
    }
  }
}
