import { ConsumerNode, type ConsumerOptions } from '@vf/core';
import { probeVideo } from './ffmpeg.js';
import { VideoEncoder } from './videoEncoder.js';
import type { VideoFrame } from './videoFrame.js';

/** Options of {@link VideoFileWriter}. */
export interface VideoFileWriterOptions extends ConsumerOptions {
  /** The MP4 file to write (replaced if it exists). */
  readonly path: string;
  /** Frame rate of the file: frame slots are `fps` per second of the input's timeline. */
  readonly fps: number;
  /**
   * Frames the input has (e.g. `probeVideo(input).frames`, or the reader's `maxFrames`): frames
   * missing at the end (dropped by a realtime engine, or a stopped flow) are filled by repeating the
   * last one, so the file lasts as long as the input. Default: no tail padding.
   */
  readonly totalFrames?: number;
  /**
   * The input video file, when the flow reads one: `open()` probes it for `totalFrames` when that is
   * not given (its container's frame count). Default: none.
   */
  readonly inputVideo?: string;
  /** x264 constant rate factor (0–51, lower is better). Default 20. */
  readonly crf?: number;
  /** How long `close()` lets ffmpeg finish the file before killing it. Default 60 s. */
  readonly finishTimeoutMs?: number;
}

/**
 * Encodes the frames it receives into an H.264 MP4 (yuv420p) with an ffmpeg child process fed on
 * its stdin; the size and channel count come from the first frame.
 *
 * It keeps the input's timing: each frame goes to the slot of its `timestampMs` at `fps`
 * (`round(timestampMs × fps / 1000)`), and slots that received no frame (frames a realtime engine
 * dropped) repeat the previous frame, so the output plays at the input's speed and lasts as long
 * (with `totalFrames`, also when the last frames were dropped). A frame whose slot is already
 * written is skipped. The first frame received also fills the slots before it.
 *
 * A full pipe makes `consume()` wait, so the flow slows to the encoder's pace rather than buffering
 * frames. `close()` finishes the file (also when the flow was stopped: what arrived is a playable
 * video) by closing ffmpeg's stdin and waiting, bounded, for it; it fails the task if ffmpeg failed.
 */
export class VideoFileWriter extends ConsumerNode<[VideoFrame]> {
  readonly path: string;
  readonly #fps: number;
  #totalFrames: number | undefined;
  readonly #inputVideo: string | undefined;
  readonly #encoderOptions: { crf?: number; finishTimeoutMs?: number };
  #encoder: VideoEncoder | undefined;
  #last: Uint8Array | undefined;
  #nextSlot = 0;
  #repeated = 0;
  #skipped = 0;

  constructor(options: VideoFileWriterOptions) {
    const { path, fps, totalFrames, inputVideo, crf, finishTimeoutMs, ...consumerOptions } = options;
    super(consumerOptions);
    this.path = path;
    this.#fps = fps;
    this.#totalFrames = totalFrames;
    this.#inputVideo = inputVideo;
    this.#encoderOptions = { ...(crf === undefined ? {} : { crf }), ...(finishTimeoutMs === undefined ? {} : { finishTimeoutMs }) };
  }

  override async open(): Promise<void> {
    if (this.#totalFrames === undefined && this.#inputVideo !== undefined) {
      const { frames } = await probeVideo(this.#inputVideo);
      if (frames > 0) this.#totalFrames = frames;
    }
  }

  /** Frames written so far, repeats included. */
  get framesWritten(): number {
    return this.#nextSlot;
  }

  /** Frames written as repeats to fill gaps in the input's timeline. */
  get framesRepeated(): number {
    return this.#repeated;
  }

  /** Frames skipped because their slot was already written. */
  get framesSkipped(): number {
    return this.#skipped;
  }

  async consume(frame: VideoFrame): Promise<void> {
    this.#encoder ??= VideoEncoder.start(this.path, {
      width: frame.width,
      height: frame.height,
      channels: frame.channels,
      fps: this.#fps,
      ...this.#encoderOptions,
    });
    const slot = Math.round((frame.timestampMs * this.#fps) / 1000);
    if (slot < this.#nextSlot) {
      this.#skipped += 1;
      return;
    }
    // Before the first frame there is nothing to hold: it fills the slots it missed itself.
    await this.#fillTo(slot, this.#last ?? frame.data);
    await this.#encoder.write(frame.data);
    this.#last = frame.data;
    this.#nextSlot = slot + 1;
  }

  /** Writes `fill` into every slot up to (not including) `slot`. */
  async #fillTo(slot: number, fill: Uint8Array): Promise<void> {
    const encoder = this.#encoder;
    if (encoder === undefined) return;
    while (this.#nextSlot < slot) {
      await encoder.write(fill);
      this.#nextSlot += 1;
      this.#repeated += 1;
    }
  }

  override async close(): Promise<void> {
    const encoder = this.#encoder;
    if (encoder === undefined) return;
    try {
      if (this.#totalFrames !== undefined && this.#last !== undefined) await this.#fillTo(this.#totalFrames, this.#last);
      this.#encoder = undefined;
      await encoder.finish();
    } finally {
      this.#encoder = undefined;
      await encoder.abort();
    }
  }
}
