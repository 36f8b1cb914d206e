import type { ChildProcess } from 'node:child_process';
import { emitWarningOnce } from '@vf/core/engine';
import { assertFileExists, exited, lastLines, passthroughArgs, spawnFfmpeg, stopProcess, VideoError, VideoErrorCode } from './ffmpeg.js';
import { rgbFrameBytes, type VideoFrame } from './videoFrame.js';

/** Options of {@link VideoDecoder}. */
export interface VideoDecoderOptions {
  /** Decode only every `step`-th frame (indices still count every frame). Default 1. */
  readonly step?: number;
  /** Stop after this many output frames. Default: all. */
  readonly maxFrames?: number;
}

/**
 * Decodes a video into RGB24 {@link VideoFrame}s through an ffmpeg child process's stdout. Frames are
 * pulled: while nobody asks for the next frame the pipe fills and ffmpeg waits (backpressure), so
 * memory stays at a few frames whatever the video's length. {@link stop} ends ffmpeg at any time.
 */
export class VideoDecoder {
  readonly file: string;
  readonly width: number;
  readonly height: number;
  /**
   * Frame rate the timestamps are computed from (`index / fps`): give the file's average rate
   * (`probeVideo().fps`), so that a variable-rate file's timestamps stay within its duration.
   */
  readonly fps: number;
  /** Frames the container lists (`probeVideo().frames`); 0 when unknown. */
  readonly #listedFrames: number;
  readonly #options: VideoDecoderOptions;
  #child: ChildProcess | undefined;
  #stopped = false;

  constructor(
    file: string,
    size: { readonly width: number; readonly height: number; readonly fps?: number; readonly frames?: number },
    options: VideoDecoderOptions = {},
  ) {
    this.file = file;
    this.width = size.width;
    this.height = size.height;
    this.fps = size.fps !== undefined && size.fps > 0 ? size.fps : 25;
    this.#listedFrames = size.frames ?? 0;
    this.#options = options;
  }

  /**
   * The frames, in order. Throws {@link VideoError} `VIDEO_NOT_FOUND` / `VIDEO_UNREADABLE` (naming the
   * file) when the file is missing or ffmpeg cannot decode it. Leaving the loop early ends ffmpeg.
   */
  async *frames(): AsyncGenerator<VideoFrame> {
    assertFileExists(this.file);
    const step = this.#options.step ?? 1;
    const args = ['-nostdin', '-i', this.file, '-an', '-sn'];
    if (step > 1) args.push('-vf', `select=not(mod(n\\,${step}))`);
    // The file's own frames, each once: not a constant-rate stream with duplicates (variable-rate files).
    args.push(...(await passthroughArgs()));
    if (this.#options.maxFrames !== undefined) args.push('-frames:v', String(this.#options.maxFrames));
    args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', '-');
    const { child, stderr } = spawnFfmpeg(args, 'ignore');
    this.#child = child;
    let count = 0;
    try {
      for await (const frame of rawFrames(child.stdout as AsyncIterable<Buffer>, rgbFrameBytes(this.width, this.height))) {
        const index = count * step;
        yield { index, timestampMs: (index * 1000) / this.fps, width: this.width, height: this.height, channels: 3, data: frame };
        count += 1;
      }
      const code = await exited(child);
      if (this.#stopped) return;
      if (code !== 0 || count === 0) {
        const why = lastLines(stderr()) || (code === 0 ? 'no video frames in it' : `ffmpeg exited with ${String(code)}`);
        throw new VideoError(VideoErrorCode.Unreadable, `cannot decode video ${this.file}: ${why}`, { file: this.file });
      }
      // ffmpeg decodes what it can of a damaged or cut-short file and still exits 0; at `-v error`
      // anything it printed is such a complaint. The frames are good; the user must hear of the rest.
      const complaints = lastLines(stderr());
      if (complaints !== '') {
        const listed =
          this.#listedFrames > count && step === 1 && this.#options.maxFrames === undefined ? ` of the ${this.#listedFrames} it lists` : '';
        emitWarningOnce(`video ${this.file} is damaged or cut short: decoded ${count} frames${listed}; ffmpeg reported: ${complaints}`, {
          code: VIDEO_DAMAGED,
        });
      }
    } finally {
      // Also reached when the consumer stops early: ffmpeg must not outlive the loop.
      await stopProcess(child);
    }
  }

  /** Ends ffmpeg (if running) and waits for it to exit. Safe to call at any time, more than once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await stopProcess(this.#child);
  }
}

/** The warning code of a video that ffmpeg decoded only in part (see {@link VideoDecoder.frames}). */
export const VIDEO_DAMAGED = 'VIDEO_DAMAGED';

/**
 * Cuts a byte stream (ffmpeg's rawvideo stdout) into frames of `frameBytes` bytes, each in its own
 * buffer (consumers keep them). A trailing partial frame is dropped.
 */
export async function* rawFrames(stream: AsyncIterable<Buffer>, frameBytes: number): AsyncGenerator<Uint8Array> {
  let frame = new Uint8Array(frameBytes);
  let filled = 0;
  for await (const chunk of stream) {
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(frameBytes - filled, chunk.length - at);
      frame.set(chunk.subarray(at, at + take), filled);
      filled += take;
      at += take;
      if (filled === frameBytes) {
        yield frame;
        frame = new Uint8Array(frameBytes);
        filled = 0;
      }
    }
  }
}
