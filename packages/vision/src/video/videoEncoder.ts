import type { ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { checkOption, timeoutMs } from '../options.js';
import { exited, lastLines, spawnFfmpeg, stopProcess, VideoError, VideoErrorCode, waitOrStop } from './ffmpeg.js';

const PIXEL_FORMATS: Record<number, string> = { 1: 'gray', 3: 'rgb24', 4: 'rgba' };

/** Partial files of encoders still running in this process: removed if it exits before they finish. */
const partialFiles = new Set<string>();
let exitHookInstalled = false;

function trackPartial(file: string): void {
  partialFiles.add(file);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers run synchronously: an unfinished file is unplayable, so it must not stay.
  process.once('exit', () => {
    for (const partial of partialFiles) rmSync(partial, { force: true });
  });
}

function removePartial(file: string): void {
  partialFiles.delete(file);
  rmSync(file, { force: true });
}

/** Options of {@link VideoEncoder.start}. */
export interface VideoEncoderOptions {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Bytes per input pixel: 1 (grey), 3 (RGB, default) or 4 (RGBA). */
  readonly channels?: number;
  /** x264 preset: `ultrafast` … `veryslow`. Default `veryfast` (the demo favours speed). */
  readonly preset?: string;
  /** x264 constant rate factor (0–51, lower is better). Default 20. */
  readonly crf?: number;
  /** How long {@link VideoEncoder.finish} lets ffmpeg finish the file before killing it, in ms (at most 2^31 − 1). Default 60 s. */
  readonly finishTimeoutMs?: number;
}

/**
 * Encodes RGB24 frames into an H.264 MP4 (yuv420p, so every player reads it) through an ffmpeg
 * child process fed on its stdin. {@link write} waits when ffmpeg's pipe is full (backpressure).
 *
 * ffmpeg writes a partial file beside the target (`<file>.<pid>.partial<ext>`), renamed into place
 * when {@link finish} succeeds: an MP4 cut short (ffmpeg killed, disk full) has no index and is
 * unplayable, so a failure, {@link abort} or the process exiting removes it and leaves any earlier
 * `file` as it was. Every error is a {@link VideoError} `VIDEO_ENCODE_FAILED` naming the file.
 */
export class VideoEncoder {
  readonly file: string;
  readonly #partial: string;
  readonly #child: ChildProcess;
  readonly #stderr: () => string;
  readonly #frameBytes: number;
  #frames = 0;
  #finishTimeoutMs = 60_000;
  #pipeError: Error | undefined;

  private constructor(file: string, partial: string, child: ChildProcess, stderr: () => string, frameBytes: number) {
    this.file = file;
    this.#partial = partial;
    this.#child = child;
    this.#stderr = stderr;
    this.#frameBytes = frameBytes;
    // EPIPE when ffmpeg dies: remembered and reported by write()/finish() with ffmpeg's own message.
    child.stdin?.on('error', (error) => {
      this.#pipeError = error;
    });
  }

  /**
   * Starts ffmpeg writing `file` (its directory is created; an existing file is replaced once the
   * video is finished). A `finishTimeoutMs` no Node timer can wait is refused here, before ffmpeg
   * starts (`FlowValidationError` `INVALID_OPTION`): its timer would fire at once, and
   * {@link finish} kill ffmpeg and lose the video.
   */
  static start(file: string, options: VideoEncoderOptions): VideoEncoder {
    checkOption('VideoEncoder', options, 'finishTimeoutMs', timeoutMs);
    const { width, height, fps } = options;
    const channels = options.channels ?? 3;
    const pixelFormat = PIXEL_FORMATS[channels];
    if (pixelFormat === undefined) {
      throw new VideoError(
        VideoErrorCode.EncodeFailed,
        `cannot encode video ${file}: frames of ${channels} channels (1, 3 or 4 are encodable)`,
        {
          file,
        },
      );
    }
    try {
      mkdirSync(dirname(file), { recursive: true });
    } catch (error) {
      throw new VideoError(
        VideoErrorCode.EncodeFailed,
        `cannot encode video ${file}: cannot create its directory: ${(error as Error).message}`,
        {
          file,
          cause: error,
        },
      );
    }
    // ffmpeg picks the container from the name: keep the target's extension (MP4 when it has none).
    const partial = `${file}.${process.pid}.partial${extname(file) || '.mp4'}`;
    trackPartial(partial);
    const { child, stderr } = spawnFfmpeg(
      [
        '-y',
        ...['-f', 'rawvideo', '-pix_fmt', pixelFormat, '-s', `${width}x${height}`, '-r', String(fps), '-i', '-'],
        '-an',
        // yuv420p halves the chroma resolution, so it needs even sizes: pad odd ones by a pixel.
        ...['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'],
        ...['-c:v', 'libx264', '-preset', options.preset ?? 'veryfast', '-crf', String(options.crf ?? 20), '-pix_fmt', 'yuv420p'],
        ...['-movflags', '+faststart', partial],
      ],
      'pipe',
    );
    const encoder = new VideoEncoder(file, partial, child, stderr, width * height * channels);
    encoder.#finishTimeoutMs = options.finishTimeoutMs ?? 60_000;
    return encoder;
  }

  /** Frames written so far. */
  get frames(): number {
    return this.#frames;
  }

  /** Queues one frame; resolves when ffmpeg can take more. */
  async write(data: Uint8Array): Promise<void> {
    if (data.length !== this.#frameBytes) {
      throw new VideoError(
        VideoErrorCode.EncodeFailed,
        `cannot encode video ${this.file}: frame ${this.#frames} has ${data.length} bytes, expected ${this.#frameBytes}`,
        { file: this.file },
      );
    }
    const stdin = this.#child.stdin;
    if (stdin === null || this.#pipeError !== undefined || this.#exited()) throw await this.#failure();
    this.#frames += 1;
    if (!stdin.write(data)) {
      // ffmpeg may be gone already (killed while this writer waited for a frame: its 'exit' has
      // fired), and then no 'drain' ever comes: the pipe's error or close ends the wait too.
      await new Promise<void>((resolve) => {
        const done = () => {
          stdin.off('drain', done);
          stdin.off('error', done);
          stdin.off('close', done);
          this.#child.off('exit', done);
          resolve();
        };
        stdin.on('drain', done);
        stdin.once('error', done);
        stdin.once('close', done);
        this.#child.once('exit', done);
        if (this.#exited() || stdin.destroyed) done();
      });
      if (this.#pipeError !== undefined || this.#exited()) throw await this.#failure();
    }
  }

  /** Whether ffmpeg has ended: with a code, or killed by a signal (then `exitCode` stays null). */
  #exited(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  /**
   * Closes ffmpeg's input, waits (bounded by `finishTimeoutMs`) for it to finish the file, and moves
   * it into place. Throws when ffmpeg failed or had to be killed; the partial file is then removed.
   */
  async finish(): Promise<void> {
    this.#child.stdin?.end();
    const code = await waitOrStop(this.#child, this.#finishTimeoutMs);
    if (code !== 0) {
      const failure = await this.#failure();
      removePartial(this.#partial);
      throw failure;
    }
    try {
      renameSync(this.#partial, this.file);
      partialFiles.delete(this.#partial);
    } catch (error) {
      removePartial(this.#partial);
      throw new VideoError(VideoErrorCode.EncodeFailed, `cannot encode video ${this.file}: ${(error as Error).message}`, {
        file: this.file,
        cause: error,
      });
    }
  }

  /** Kills ffmpeg without finishing the file and removes what it wrote (on failure). */
  async abort(): Promise<void> {
    await stopProcess(this.#child, 500);
    removePartial(this.#partial);
  }

  async #failure(): Promise<VideoError> {
    const code = await Promise.race([exited(this.#child), new Promise((resolve) => setTimeout(resolve, 2000, 'running'))]);
    const why = lastLines(this.#stderr()) || this.#pipeError?.message || `ffmpeg exited with ${String(code)}`;
    return new VideoError(VideoErrorCode.EncodeFailed, `cannot encode video ${this.file}: ${why}`, { file: this.file });
  }
}
