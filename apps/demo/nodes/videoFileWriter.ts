import { ConsumerNode, type ConsumerOptions } from '@vf/core';
import { VideoEncoder } from '../src/video/videoEncoder.js';
import type { VideoFrame } from '../src/video/videoFrame.js';

/** Options of {@link VideoFileWriter}. */
export interface VideoFileWriterOptions extends ConsumerOptions {
  /** The MP4 file to write (replaced if it exists). */
  readonly path: string;
  /** Frame rate written into the file. */
  readonly fps: number;
}

/**
 * Encodes the frames it receives into an H.264 MP4 (yuv420p) with an ffmpeg child process fed on its
 * stdin; the size comes from the first frame. A full pipe makes `consume()` wait, so the flow slows
 * to the encoder's pace rather than buffering frames. `close()` finishes the file (also when the
 * flow was stopped: what arrived is a playable video) and fails the task if ffmpeg failed.
 */
export class VideoFileWriter extends ConsumerNode<[VideoFrame]> {
  readonly path: string;
  readonly #fps: number;
  #encoder: VideoEncoder | undefined;

  constructor(options: VideoFileWriterOptions) {
    const { path, fps, ...consumerOptions } = options;
    super(consumerOptions);
    this.path = path;
    this.#fps = fps;
  }

  async consume(frame: VideoFrame): Promise<void> {
    this.#encoder ??= VideoEncoder.start(this.path, { width: frame.width, height: frame.height, fps: this.#fps });
    await this.#encoder.write(frame.data);
  }

  override async close(): Promise<void> {
    const encoder = this.#encoder;
    this.#encoder = undefined;
    if (encoder === undefined) return;
    try {
      await encoder.finish();
    } finally {
      await encoder.abort();
    }
  }
}
