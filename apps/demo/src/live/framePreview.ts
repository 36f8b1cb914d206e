import { renameSync, rmSync } from 'node:fs';
import { ConsumerNode, type ConsumerOptions } from '@vf/core';
import { exited, spawnFfmpeg, stopProcess } from '@vf/vision';

/** A frame as the preview takes it: `channels` bytes per pixel (default 3, RGB), row by row. */
export interface PreviewFrame {
  readonly width: number;
  readonly height: number;
  readonly channels?: number;
  readonly data: Uint8Array;
}

/** Options of {@link FramePreview}. */
export interface FramePreviewOptions extends ConsumerOptions {
  /** The JPEG file to keep replacing with the latest frame (written whole, then renamed into place). */
  readonly path: string;
  /** At most this many previews a second. Default 2: a glance, not a second video stream. */
  readonly maxPerSecond?: number;
  /** Previews wider than this are scaled down (aspect kept). Default 480. */
  readonly maxWidth?: number;
}

const PIXEL_FORMATS: Readonly<Record<number, string>> = { 1: 'gray', 3: 'rgb24', 4: 'rgba' };

/**
 * The live view's preview: keeps `path` a small JPEG of the latest frame it received, a few times a
 * second. It never slows the flow: `consume()` returns at once, a frame that arrives while the
 * previous one is still being encoded (one short ffmpeg run each) is skipped, and `close()` waits
 * only for the encode in flight. A failed encode is skipped too (the preview is a convenience:
 * it must not fail the job).
 */
export class FramePreview extends ConsumerNode<[PreviewFrame]> {
  readonly path: string;
  readonly #intervalMs: number;
  readonly #maxWidth: number;
  #lastStarted = Number.NEGATIVE_INFINITY;
  #encoding: Promise<void> | undefined;
  #written = 0;

  constructor(options: FramePreviewOptions) {
    const { path, maxPerSecond = 2, maxWidth = 480, ...consumerOptions } = options;
    super(consumerOptions);
    this.path = path;
    this.#intervalMs = 1000 / maxPerSecond;
    this.#maxWidth = maxWidth;
  }

  /** Previews written so far. */
  get written(): number {
    return this.#written;
  }

  consume(frame: PreviewFrame): void {
    const now = performance.now();
    if (this.#encoding !== undefined || now - this.#lastStarted < this.#intervalMs) return;
    const pixelFormat = PIXEL_FORMATS[frame.channels ?? 3];
    if (pixelFormat === undefined) return;
    this.#lastStarted = now;
    this.#encoding = this.#encode(frame, pixelFormat).finally(() => {
      this.#encoding = undefined;
    });
  }

  override async close(): Promise<void> {
    await this.#encoding;
  }

  async #encode(frame: PreviewFrame, pixelFormat: string): Promise<void> {
    const partial = `${this.path}.partial.jpg`;
    const width = Math.min(frame.width, this.#maxWidth);
    const { child } = spawnFfmpeg(
      [
        '-y',
        ...['-f', 'rawvideo', '-pix_fmt', pixelFormat, '-s', `${frame.width}x${frame.height}`, '-i', '-'],
        ...['-frames:v', '1', '-vf', `scale=${width}:-2`, '-q:v', '5', partial],
      ],
      'pipe',
    );
    child.stdin?.on('error', () => undefined); // ffmpeg failing is seen in its exit code
    child.stdin?.end(frame.data);
    const timer = setTimeout(() => void stopProcess(child), 5_000);
    try {
      if ((await exited(child)) !== 0) return;
      renameSync(partial, this.path);
      this.#written += 1;
    } catch {
      // The preview is best effort: the next frame tries again.
    } finally {
      clearTimeout(timer);
      rmSync(partial, { force: true });
    }
  }
}
