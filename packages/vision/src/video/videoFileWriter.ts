import { ConsumerNode, type ConsumerOptions } from '@vf/core';
import { checkOption, nonEmptyString, numberIn, optionsObject, positiveNumber, timeoutMs } from '../options.js';
import { VideoError, VideoErrorCode } from './ffmpeg.js';
import { VideoEncoder } from './videoEncoder.js';
import type { VideoFrame } from './videoFrame.js';

/** Options of {@link VideoFileWriter}. */
export interface VideoFileWriterOptions extends ConsumerOptions {
  /** The MP4 file to write (replaced if it exists). */
  readonly path: string;
  /** Frame rate of the file (a positive number): frame slots are `fps` per second of the input's timeline. */
  readonly fps: number;
  /**
   * Frames the input has (e.g. `probeVideo(input).frames`, or the reader's `maxFrames`).
   * @deprecated No longer used: the file ends with the last frame received. Padding the end to this
   * count also padded a stopped or failed flow's file with its last frame, so that it looked
   * complete. Still accepted, so that existing flows build.
   */
  readonly totalFrames?: number;
  /**
   * The input video file, when the flow reads one.
   * @deprecated No longer used (it was probed for {@link VideoFileWriterOptions.totalFrames}).
   */
  readonly inputVideo?: string;
  /** x264 constant rate factor (0–51, lower is better). Default 20. */
  readonly crf?: number;
  /** How long `close()` lets ffmpeg finish the file before killing it, in ms (at most 2^31 − 1, a Node timer's limit). Default 60 s. */
  readonly finishTimeoutMs?: number;
}

/** The longest gap in the input's timeline a writer fills with repeated frames: an hour. */
const MAX_FILLED_SECONDS = 3600;

/**
 * Encodes the frames it receives into an H.264 MP4 (yuv420p) with an ffmpeg child process fed on
 * its stdin; the size and channel count come from the first frame, and every later frame must have
 * them.
 *
 * It keeps the input's timing: each frame goes to the slot of its `timestampMs` at `fps`
 * (`round(timestampMs × fps / 1000)`), and slots that received no frame (frames a realtime engine
 * dropped) repeat the previous frame, so the output plays at the input's speed. A frame whose slot
 * is already written is skipped. The first frame received also fills the slots before it. The file
 * ends with the last frame received: a stopped flow's file holds the frames processed so far, and is
 * shorter than the input (a realtime engine keeps the freshest frame, so a completed flow's last
 * frame arrives and its file lasts as long as the input).
 *
 * A full pipe makes `consume()` wait, so the flow slows to the encoder's pace rather than buffering
 * frames. ffmpeg writes beside `path` and the file is moved into place when finished: `close()`
 * finishes it by closing ffmpeg's stdin and waiting, bounded, for it (also when the flow was stopped
 * or failed elsewhere: what arrived is a playable video). When the writer itself fails (ffmpeg fails,
 * e.g. the disk is full or it was killed; a directory that cannot be created) no file is left at
 * `path` (an earlier one stays as it was) and the task fails with a {@link VideoError}
 * `VIDEO_ENCODE_FAILED` naming the node and the file. So does a frame the file cannot take (another
 * size than the first, a channel count other than 1, 3 or 4) under the default `onError: 'fail'`:
 * it fails the flow, and the file of the frames before it is not kept. With `onError: 'skip'` (or
 * retries) it fails alone with that error, before anything of it is written, and the file goes on
 * without it.
 */
export class VideoFileWriter extends ConsumerNode<[VideoFrame]> {
  readonly path: string;
  readonly #fps: number;
  readonly #encoderOptions: { crf?: number; finishTimeoutMs?: number };
  #encoder: VideoEncoder | undefined;
  /**
   * The writer's failure (the encoder's, or a frame it cannot take under `onError: 'fail'`): the file
   * must not be kept, so close() removes it and reports this.
   */
  #failure: unknown;
  #first: { width: number; height: number; channels: number } | undefined;
  #last: Uint8Array | undefined;
  #nextSlot = 0;
  #repeated = 0;
  #skipped = 0;

  constructor(options: VideoFileWriterOptions) {
    const {
      path,
      fps,
      totalFrames: _totalFrames,
      inputVideo: _inputVideo,
      crf,
      finishTimeoutMs,
      ...consumerOptions
    } = optionsObject(new.target.name, options, '{ path, fps, ... }');
    super(consumerOptions);
    checkOption(this.name, options, 'path', nonEmptyString, true);
    checkOption(this.name, options, 'fps', positiveNumber, true);
    checkOption(this.name, options, 'crf', numberIn(0, 51));
    checkOption(this.name, options, 'finishTimeoutMs', timeoutMs);
    this.path = path;
    this.#fps = fps;
    this.#encoderOptions = { ...(crf === undefined ? {} : { crf }), ...(finishTimeoutMs === undefined ? {} : { finishTimeoutMs }) };
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
    if (this.#failure !== undefined) throw this.#failure;
    const unfit = this.#checkFrame(frame);
    if (unfit !== undefined) {
      // What this throw does is the onError policy's: under 'fail' it fails the flow, and close() must
      // then leave no file (the writer failed); under 'skip' or retries the runtime drops the frame and
      // calls consume() again, so the file goes on without it. close() cannot tell the two apart (it is
      // called alike, and the odd frame may be the last), so the policy decides here.
      if (this.errorPolicy.mode === 'fail') this.#failure = unfit;
      throw unfit;
    }
    try {
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
    } catch (error) {
      // The encoder is unusable now (with onError 'skip' the flow goes on): every later frame and close() report this.
      this.#failure = this.#named(error);
      throw this.#failure;
    }
  }

  /** Why the file cannot take `frame` (checked before anything of it is written), naming it; undefined when it can. */
  #checkFrame(frame: VideoFrame): VideoError | undefined {
    const { width, height, channels, data } = frame;
    this.#first ??= { width, height, channels };
    const first = this.#first;
    let problem: string | undefined;
    if (!(channels === 1 || channels === 3 || channels === 4)) problem = `has ${String(channels)} channels (1, 3 or 4 are encodable)`;
    else if (width !== first.width || height !== first.height || channels !== first.channels) {
      problem = `is ${width}×${height}×${channels}, but the video is ${first.width}×${first.height}×${first.channels} (its first frame's size)`;
    } else if (data.length !== width * height * channels) problem = `has ${data.length} bytes, not ${width}×${height}×${channels}`;
    else problem = this.#timingProblem(frame.timestampMs);
    if (problem === undefined) return undefined;
    if (this.#encoder === undefined) this.#first = undefined; // no frame written yet: the next one may set the size
    return new VideoError(VideoErrorCode.EncodeFailed, `${this.name}: cannot write frame ${frame.index} to ${this.path}: it ${problem}`, {
      file: this.path,
    });
  }

  /**
   * Why `timestampMs` cannot place a frame in the file: not a number of ms ≥ 0, or so far past the
   * last slot written that the gap would be filled with over an hour of repeated frames. Such a jump
   * is not the input's timing but a clock of another origin (epoch milliseconds: `Date.now()`), and
   * filling it would write frames for hours (1.7e10 of them for a first frame stamped `Date.now()`).
   */
  #timingProblem(timestampMs: number): string | undefined {
    if (!(Number.isFinite(timestampMs) && timestampMs >= 0)) return `has the timestamp ${String(timestampMs)} (ms ≥ 0 expected)`;
    const gap = Math.round((timestampMs * this.#fps) / 1000) - this.#nextSlot;
    if (gap <= MAX_FILLED_SECONDS * this.#fps) return undefined;
    const at =
      this.#nextSlot === 0
        ? 'the start of the video'
        : `the end of the video so far (${((this.#nextSlot / this.#fps) * 1000).toFixed(0)} ms)`;
    return `is stamped ${timestampMs} ms, ${(gap / this.#fps / 3600).toFixed(1)} h after ${at}: the gap would be filled with repeated frames for longer than ${MAX_FILLED_SECONDS / 3600} h (timestamps must be ms since the stream's start, not epoch milliseconds)`;
  }

  #named(error: unknown): unknown {
    if (error instanceof VideoError) {
      return new VideoError(VideoErrorCode.EncodeFailed, `${this.name}: ${error.message}`, { file: this.path, cause: error });
    }
    return new VideoError(VideoErrorCode.EncodeFailed, `${this.name}: cannot encode video ${this.path}: ${String(error)}`, {
      file: this.path,
      cause: error,
    });
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
    this.#encoder = undefined;
    if (encoder === undefined) return;
    try {
      if (this.#failure !== undefined) throw this.#failure;
      await encoder.finish();
    } catch (error) {
      throw error === this.#failure ? error : this.#named(error);
    } finally {
      // After a failure: kills ffmpeg and removes the unfinished file. After finish(): nothing left to do.
      await encoder.abort();
    }
  }
}
