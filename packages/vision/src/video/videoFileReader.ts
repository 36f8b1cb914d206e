import { type ProduceContext, ProducerNode, type ProducerOptions, VfError } from '@vf/core';
import { checkOption, integerFrom, nonEmptyString, optionsObject } from '../options.js';
import { probeVideo, type VideoInfo } from './ffmpeg.js';
import { VideoDecoder } from './videoDecoder.js';
import type { VideoFrame } from './videoFrame.js';

/** Options of {@link VideoFileReader}. */
export interface VideoFileReaderOptions extends ProducerOptions {
  /** The video file to decode (any format ffmpeg reads). */
  readonly path: string;
  /** Stop after this many frames (a positive integer). Default: the whole video. */
  readonly maxFrames?: number;
}

/**
 * Decodes a video file into RGB24 {@link VideoFrame}s (`{ index, timestampMs, width, height,
 * channels: 3, data }`) with an ffmpeg child process: every frame the file has, once, upright (its
 * rotation metadata applied). `timestampMs = index / fps`, `fps` being the file's average frame rate:
 * ffmpeg's raw pipe carries no timestamps, and so a variable-rate file's frames are spread evenly
 * over its duration rather than at their own times. Frames are decoded as fast as the flow takes
 * them: ffmpeg waits on a full pipe (backpressure). A missing or unreadable file fails the task in `open()` with a `VideoError`
 * (`VIDEO_NOT_FOUND`, `VIDEO_UNREADABLE`) naming the file; `close()` ends ffmpeg whatever happened.
 */
export class VideoFileReader extends ProducerNode<VideoFrame> {
  readonly path: string;
  readonly #maxFrames: number | undefined;
  #info: VideoInfo | undefined;
  #decoder: VideoDecoder | undefined;

  constructor(options: VideoFileReaderOptions) {
    const { path, maxFrames, ...producerOptions } = optionsObject(new.target.name, options, '{ path, ... }');
    super(producerOptions);
    checkOption(this.name, options, 'path', nonEmptyString, true);
    checkOption(this.name, options, 'maxFrames', integerFrom(1));
    this.path = path;
    this.#maxFrames = maxFrames;
  }

  /** Size, frame rate and length of the video (after `open()`). */
  get info(): VideoInfo | undefined {
    return this.#info;
  }

  override async open(): Promise<void> {
    this.#info = await probeVideo(this.path);
  }

  async *produce(_context: ProduceContext): AsyncGenerator<VideoFrame> {
    yield* this.decode(0);
  }

  /** The video's frames once, their indices offset by `firstIndex`. */
  protected async *decode(firstIndex: number): AsyncGenerator<VideoFrame> {
    const info = this.#info;
    if (info === undefined) throw new VfError('NOT_OPEN', `${this.name}: produce() before open()`, { details: { node: this.name } });
    this.#decoder = new VideoDecoder(this.path, info, this.#maxFrames === undefined ? {} : { maxFrames: this.#maxFrames });
    for await (const frame of this.#decoder.frames()) {
      if (firstIndex === 0) yield frame;
      else {
        const index = firstIndex + frame.index;
        yield { ...frame, index, timestampMs: (index * 1000) / this.#decoder.fps };
      }
    }
  }

  override async close(): Promise<void> {
    await this.#decoder?.stop();
  }
}
