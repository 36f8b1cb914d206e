import { setTimeout as sleep } from 'node:timers/promises';
import { type ProduceContext, ProducerNode, type ProducerOptions } from '@vf/core';
import { checkOption, integerFrom, nonEmptyString, numberIn } from '../options.js';
import { lastLines, probeStream, spawnFfmpeg, stopProcess, VideoError, VideoErrorCode } from './ffmpeg.js';
import { rawFrames } from './videoDecoder.js';
import { rgbFrameBytes, type VideoFrame } from './videoFrame.js';

/** The longest wait a Node timer takes (2³¹ − 1 ms): a longer one fires after 1 ms. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Options of {@link VideoStreamReader}. */
export interface VideoStreamReaderOptions extends ProducerOptions {
  /**
   * What to read: a URL (`rtsp://…`, `http://…`, `https://…`, `udp://…`), a V4L2 camera
   * (`/dev/video0`: read with `-f v4l2`), or anything ffmpeg opens with `inputArgs`.
   */
  readonly source: string;
  /** Extra ffmpeg input options, before `-i` (e.g. `['-rtsp_transport', 'tcp']`, set by default for rtsp). */
  readonly inputArgs?: readonly string[];
  /** Scale frames to this size. Default: the stream's own size (probed at each connection). */
  readonly width?: number;
  readonly height?: number;
  /** Stop after this many frames. Default: never (until stopped, or the retries run out). */
  readonly maxFrames?: number;
  /**
   * Reconnection attempts (after the first connection, or after a connection ends) before the
   * reader gives up with {@link VideoError} `STREAM_UNAVAILABLE`. A connection that delivers frames
   * resets the count. Default 5.
   */
  readonly maxRetries?: number;
  /** Wait before the first reconnection attempt; doubles each failure, up to 10 s. Default 1000 ms. */
  readonly retryDelayMs?: number;
  /** A connection that delivers no bytes for this long is dropped and reopened. Default 10 s. */
  readonly stallTimeoutMs?: number;
  /** Called on each reconnection attempt (attempt counts from 1), e.g. to log it. */
  readonly onReconnect?: (attempt: number, reason: string) => void;
}

/**
 * A live source for cameras and URLs: decodes `source` with ffmpeg into RGB {@link VideoFrame}s,
 * indexed from 0 across reconnections and time-stamped with the time since the first frame (a live
 * stream's own clock). When the stream ends, fails or stalls, the reader reconnects after a delay
 * (doubling per failure); `maxRetries` failures in a row end the flow's source with a coded
 * {@link VideoError} (`STREAM_UNAVAILABLE`) naming the source. A finite source (a file served over
 * HTTP) is therefore read again when it ends: use `maxFrames`, or stop the flow, to end.
 *
 * @example
 * ```ts
 * const camera = new VideoStreamReader({ name: 'camera', source: 'rtsp://192.168.1.20/stream1', maxRetries: 10 });
 * ```
 */
export class VideoStreamReader extends ProducerNode<VideoFrame> {
  readonly source: string;
  readonly #options: VideoStreamReaderOptions;
  #stopped = false;
  #stopCurrent: (() => Promise<void>) | undefined;

  constructor(options: VideoStreamReaderOptions) {
    const { source, inputArgs, width, height, maxFrames, maxRetries, retryDelayMs, stallTimeoutMs, onReconnect, ...producerOptions } =
      options;
    super(producerOptions);
    checkOption(this.name, options, 'source', nonEmptyString, true);
    checkOption(this.name, options, 'width', integerFrom(1));
    checkOption(this.name, options, 'height', integerFrom(1));
    checkOption(this.name, options, 'maxFrames', integerFrom(1));
    checkOption(this.name, options, 'maxRetries', integerFrom(0));
    checkOption(this.name, options, 'retryDelayMs', numberIn(0, MAX_DELAY_MS));
    checkOption(this.name, options, 'stallTimeoutMs', numberIn(1, MAX_DELAY_MS));
    this.source = source;
    this.#options = options;
  }

  /** The ffmpeg input options for the source: rtsp over TCP (fewer lost packets), V4L2 for devices. */
  #inputArgs(): string[] {
    const given = [...(this.#options.inputArgs ?? [])];
    if (/^rtsps?:\/\//i.test(this.source) && !given.includes('-rtsp_transport')) given.unshift('-rtsp_transport', 'tcp');
    if (/^\/dev\/video\d+$/.test(this.source) && !given.includes('-f')) given.unshift('-f', 'v4l2');
    return given;
  }

  async *produce(_context: ProduceContext): AsyncGenerator<VideoFrame> {
    const maxRetries = this.#options.maxRetries ?? 5;
    const maxFrames = this.#options.maxFrames ?? Number.POSITIVE_INFINITY;
    const inputArgs = this.#inputArgs();
    // Reconnection attempts since the last connection that delivered frames.
    let retries = 0;
    let index = 0;
    let started: number | undefined;
    let reason = '';
    for (let first = true; !this.#stopped && index < maxFrames; first = false) {
      if (!first) {
        if (retries >= maxRetries) {
          throw new VideoError(
            VideoErrorCode.StreamUnavailable,
            `${this.name}: stream ${this.source} is unavailable after ${retries} reconnection attempts (last: ${reason}); ` +
              'check the source, or raise maxRetries / retryDelayMs',
            { file: this.source },
          );
        }
        retries += 1;
        this.#options.onReconnect?.(retries, reason);
        await sleep(Math.min(10_000, (this.#options.retryDelayMs ?? 1000) * 2 ** (retries - 1)));
        if (this.#stopped) return;
      }
      let size: { width: number; height: number };
      try {
        size = await this.#size(inputArgs);
      } catch (error) {
        reason = (error as Error).message;
        continue;
      }
      const session = this.#connect(inputArgs, size);
      try {
        for await (const data of session.frames) {
          started ??= performance.now();
          yield { index, timestampMs: performance.now() - started, width: size.width, height: size.height, channels: 3, data };
          index += 1;
          retries = 0;
          if (index >= maxFrames) break;
        }
      } finally {
        await session.stop();
      }
      reason = session.why();
    }
  }

  async #size(inputArgs: readonly string[]): Promise<{ width: number; height: number }> {
    const { width, height } = this.#options;
    if (width !== undefined && height !== undefined) return { width, height };
    const info = await probeStream(this.source, inputArgs);
    return { width: width ?? info.width, height: height ?? info.height };
  }

  /** One connection: ffmpeg decoding the source, watched for stalls. */
  #connect(inputArgs: readonly string[], size: { width: number; height: number }) {
    const scale =
      this.#options.width !== undefined || this.#options.height !== undefined ? ['-vf', `scale=${size.width}:${size.height}`] : [];
    const { child, stderr } = spawnFfmpeg(
      ['-nostdin', ...inputArgs, '-i', this.source, '-an', '-sn', ...scale, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
      'ignore',
    );
    const stallMs = this.#options.stallTimeoutMs ?? 10_000;
    let stalled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        void stopProcess(child);
      }, stallMs);
    };
    const stop = async () => {
      clearTimeout(watchdog);
      await stopProcess(child);
    };
    this.#stopCurrent = stop;
    const stdout = child.stdout as NodeJS.ReadableStream & AsyncIterable<Buffer>;
    const watched = async function* (): AsyncGenerator<Buffer> {
      arm();
      for await (const chunk of stdout) {
        arm();
        yield chunk;
      }
    };
    return {
      frames: rawFrames(watched(), rgbFrameBytes(size.width, size.height)),
      stop,
      why: () => (stalled ? `no data for ${stallMs} ms` : lastLines(stderr()) || 'the stream ended'),
    };
  }

  override async close(): Promise<void> {
    this.#stopped = true;
    await this.#stopCurrent?.();
  }
}
