import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { exited, lastLines, spawnFfmpeg, stopProcess, VideoError, VideoErrorCode, waitOrStop } from './ffmpeg.js';

const PIXEL_FORMATS: Record<number, string> = { 1: 'gray', 3: 'rgb24', 4: 'rgba' };

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
  /** How long {@link VideoEncoder.finish} lets ffmpeg finish the file before killing it. Default 60 s. */
  readonly finishTimeoutMs?: number;
}

/**
 * Encodes RGB24 frames into an H.264 MP4 (yuv420p, so every player reads it) through an ffmpeg
 * child process fed on its stdin. {@link write} waits when ffmpeg's pipe is full (backpressure).
 */
export class VideoEncoder {
  readonly file: string;
  readonly #child: ChildProcess;
  readonly #stderr: () => string;
  readonly #frameBytes: number;
  #frames = 0;
  #finishTimeoutMs = 60_000;
  #pipeError: Error | undefined;

  private constructor(file: string, child: ChildProcess, stderr: () => string, frameBytes: number) {
    this.file = file;
    this.#child = child;
    this.#stderr = stderr;
    this.#frameBytes = frameBytes;
    // EPIPE when ffmpeg dies: remembered and reported by write()/finish() with ffmpeg's own message.
    child.stdin?.on('error', (error) => {
      this.#pipeError = error;
    });
  }

  /** Starts ffmpeg writing `file` (its directory is created; an existing file is replaced). */
  static start(file: string, options: VideoEncoderOptions): VideoEncoder {
    mkdirSync(dirname(file), { recursive: true });
    const { width, height, fps } = options;
    const channels = options.channels ?? 3;
    const pixelFormat = PIXEL_FORMATS[channels];
    if (pixelFormat === undefined) throw new RangeError(`${file}: cannot encode frames of ${channels} channels (1, 3 or 4)`);
    const { child, stderr } = spawnFfmpeg(
      [
        '-y',
        ...['-f', 'rawvideo', '-pix_fmt', pixelFormat, '-s', `${width}x${height}`, '-r', String(fps), '-i', '-'],
        '-an',
        // yuv420p halves the chroma resolution, so it needs even sizes: pad odd ones by a pixel.
        ...['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'],
        ...['-c:v', 'libx264', '-preset', options.preset ?? 'veryfast', '-crf', String(options.crf ?? 20), '-pix_fmt', 'yuv420p'],
        ...['-movflags', '+faststart', file],
      ],
      'pipe',
    );
    const encoder = new VideoEncoder(file, child, stderr, width * height * channels);
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
      throw new RangeError(`${this.file}: frame ${this.#frames} has ${data.length} bytes, expected ${this.#frameBytes}`);
    }
    const stdin = this.#child.stdin;
    if (stdin === null || this.#pipeError !== undefined || this.#child.exitCode !== null) throw await this.#failure();
    this.#frames += 1;
    if (!stdin.write(data)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stdin.off('drain', done);
          this.#child.off('exit', done);
          resolve();
        };
        stdin.on('drain', done);
        this.#child.once('exit', done);
      });
      if (this.#child.exitCode !== null && this.#child.exitCode !== 0) throw await this.#failure();
    }
  }

  /**
   * Closes ffmpeg's input and waits (bounded by `finishTimeoutMs`) for it to finish the file.
   * Throws when ffmpeg failed or had to be killed.
   */
  async finish(): Promise<void> {
    this.#child.stdin?.end();
    const code = await waitOrStop(this.#child, this.#finishTimeoutMs);
    if (code !== 0) throw await this.#failure();
  }

  /** Kills ffmpeg without finishing the file (on failure). */
  abort(): Promise<void> {
    return stopProcess(this.#child, 500);
  }

  async #failure(): Promise<VideoError> {
    const code = await Promise.race([exited(this.#child), new Promise((resolve) => setTimeout(resolve, 2000, 'running'))]);
    const why = lastLines(this.#stderr()) || this.#pipeError?.message || `ffmpeg exited with ${String(code)}`;
    return new VideoError(VideoErrorCode.EncodeFailed, `cannot encode video ${this.file}: ${why}`, { file: this.file });
  }
}
