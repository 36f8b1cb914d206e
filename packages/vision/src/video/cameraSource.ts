import type { ProduceContext } from '@vf/core';
import { checkOption, integerFrom, optionsObject, positiveNumber } from '../options.js';
import { VideoFileReader, type VideoFileReaderOptions } from './videoFileReader.js';
import type { VideoFrame } from './videoFrame.js';

/** Options of {@link CameraSource}. */
export interface CameraSourceOptions extends VideoFileReaderOptions {
  /** Frames per second the source emits at, like a camera. */
  readonly fps: number;
  /** Times the video is played, back to back (indices keep counting), a positive integer. Default 1. */
  readonly loops?: number;
  /** Stop after this many frames in all, across the loops (a positive integer). Default: every loop, whole. */
  readonly maxFrames?: number;
}

/**
 * A camera stand-in for realtime flows: plays a video file at `fps` frames per second whatever the
 * flow downstream manages (the producer clock of `@vf/core` paces it and never bursts to catch
 * up), optionally looping it. With the realtime engine, slow nodes then see the freshest frames and
 * the rest is dropped, as with a live camera. `maxFrames` counts the frames of all the loops together.
 */
export class CameraSource extends VideoFileReader {
  readonly #loops: number;
  readonly #maxFrames: number;

  constructor(options: CameraSourceOptions) {
    // maxFrames is not the reader's: it would cap each loop's decode, not the frames of all loops.
    const { loops, maxFrames, ...readerOptions } = optionsObject(new.target.name, options, '{ path, fps, ... }');
    super(readerOptions);
    // Without it the file would play as fast as it decodes: not a camera.
    checkOption(this.name, options, 'fps', positiveNumber, true);
    checkOption(this.name, options, 'maxFrames', integerFrom(1));
    checkOption(this.name, options, 'loops', integerFrom(1));
    this.#loops = loops ?? 1;
    this.#maxFrames = maxFrames ?? Number.POSITIVE_INFINITY;
  }

  override async *produce(_context: ProduceContext): AsyncGenerator<VideoFrame> {
    let next = 0;
    let emitted = 0;
    for (let loop = 0; loop < this.#loops && emitted < this.#maxFrames; loop++) {
      for await (const frame of this.decode(next)) {
        yield frame;
        next = frame.index + 1;
        emitted += 1;
        // Leaving the loop ends this loop's ffmpeg (the decoder's generator closes).
        if (emitted >= this.#maxFrames) return;
      }
    }
  }
}
