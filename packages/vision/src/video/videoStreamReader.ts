import { setTimeout as sleep } from 'node:timers/promises';
import { type ProduceContext, ProducerNode, type ProducerOptions } from '@vf/core';
import { aFunction, checkOption, integerFrom, MAX_DELAY_MS, nonEmptyString, numberIn, optionsObject, stringArray } from '../options.js';
import { lastLines, probeStream, spawnFfmpeg, stopProcess, VideoError, VideoErrorCode } from './ffmpeg.js';
import { rawFrames } from './videoDecoder.js';
import { rgbFrameBytes, type VideoFrame } from './videoFrame.js';

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
  /**
   * A connection that delivers no bytes for this long is dropped and reopened. Time the consumer
   * holds the reader back (backpressure) does not count. Default 10 s.
   */
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
  /** Aborted by {@link close}: ends `produce()` as the flow's signal does. */
  readonly #closing = new AbortController();
  #stopCurrent: (() => Promise<void>) | undefined;

  constructor(options: VideoStreamReaderOptions) {
    const { source, inputArgs, width, height, maxFrames, maxRetries, retryDelayMs, stallTimeoutMs, onReconnect, ...producerOptions } =
      optionsObject(new.target.name, options, '{ source, ... }');
    super(producerOptions);
    checkOption(this.name, options, 'source', nonEmptyString, true);
    checkOption(this.name, options, 'width', integerFrom(1));
    checkOption(this.name, options, 'height', integerFrom(1));
    checkOption(this.name, options, 'maxFrames', integerFrom(1));
    checkOption(this.name, options, 'maxRetries', integerFrom(0));
    checkOption(this.name, options, 'retryDelayMs', numberIn(0, MAX_DELAY_MS));
    checkOption(this.name, options, 'stallTimeoutMs', numberIn(1, MAX_DELAY_MS));
    checkOption(this.name, options, 'inputArgs', stringArray);
    checkOption(this.name, options, 'onReconnect', aFunction);
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

  /**
   * The frames, across reconnections. When the flow stops or fails (`context.signal`), or on
   * {@link close}, the probe, the wait before a reconnection and the connection are cut short, their
   * ffprobe / ffmpeg killed, and the generator returns: a source that never answers must not hold
   * the flow until a 20 s probe or a 10 s retry delay runs out.
   */
  async *produce(context: ProduceContext): AsyncGenerator<VideoFrame> {
    const signal = AbortSignal.any([context.signal, this.#closing.signal]);
    const maxRetries = this.#options.maxRetries ?? 5;
    const maxFrames = this.#options.maxFrames ?? Number.POSITIVE_INFINITY;
    const inputArgs = this.#inputArgs();
    // Reconnection attempts since the last connection that delivered frames.
    let retries = 0;
    let index = 0;
    let started: number | undefined;
    let reason = '';
    for (let first = true; !signal.aborted && index < maxFrames; first = false) {
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
        // Rejects only when aborted, which the check below handles.
        await sleep(Math.min(10_000, (this.#options.retryDelayMs ?? 1000) * 2 ** (retries - 1)), undefined, { signal }).catch(() => {});
        if (signal.aborted) return;
      }
      let size: { width: number; height: number };
      try {
        size = await this.#size(inputArgs, signal);
      } catch (error) {
        if (signal.aborted) return;
        reason = (error as Error).message;
        continue;
      }
      // Aborted as the probe resolved: the abort event has fired, no ffmpeg would hear it.
      if (signal.aborted) return;
      const session = this.#connect(inputArgs, size, signal);
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

  async #size(inputArgs: readonly string[], signal: AbortSignal): Promise<{ width: number; height: number }> {
    const { width, height } = this.#options;
    if (width !== undefined && height !== undefined) return { width, height };
    const info = await probeStream(this.source, inputArgs, { signal });
    return { width: width ?? info.width, height: height ?? info.height };
  }

  /** One connection: ffmpeg decoding the source, watched for stalls, killed when `signal` aborts. */
  #connect(inputArgs: readonly string[], size: { width: number; height: number }, signal: AbortSignal) {
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
    // Ending ffmpeg ends its stdout, which wakes the generator waiting for bytes.
    const onAbort = () => {
      clearTimeout(watchdog);
      void stopProcess(child);
    };
    const stop = async () => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(watchdog);
      await stopProcess(child);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    this.#stopCurrent = stop;
    const stdout = child.stdout as NodeJS.ReadableStream & AsyncIterable<Buffer>;
    const watched = async function* (): AsyncGenerator<Buffer> {
      arm();
      for await (const chunk of stdout) {
        // Suspended at `yield`, we wait for the consumer, not the source: a slow consumer is not a
        // stall. ffmpeg, meanwhile, may block on the full pipe; that is our backpressure reaching
        // it. Only the wait for the next bytes counts.
        clearTimeout(watchdog);
        yield chunk;
        arm();
      }
    };
    return {
      frames: rawFrames(watched(), rgbFrameBytes(size.width, size.height)),
      stop,
      why: () => (stalled ? `no data for ${stallMs} ms` : lastLines(stderr()) || 'the stream ended'),
    };
  }

  override async close(): Promise<void> {
    this.#closing.abort();
    await this.#stopCurrent?.();
  }
}
