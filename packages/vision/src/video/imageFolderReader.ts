import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { type ProduceContext, ProducerNode, type ProducerOptions } from '@vf/core';
import { checkOption, nonEmptyString, type OptionRule, positiveNumber } from '../options.js';
import { exited, lastLines, spawnFfmpeg, stopProcess, VideoError, VideoErrorCode } from './ffmpeg.js';
import type { VideoFrame } from './videoFrame.js';

/** Options of {@link ImageFolderReader}. */
export interface ImageFolderReaderOptions extends ProducerOptions {
  /** The folder whose images are read (not its subfolders). */
  readonly path: string;
  /** File extensions read, lower-case with the dot. Default `.png .jpg .jpeg .bmp .tif .tiff .webp .ppm`. */
  readonly extensions?: readonly string[];
  /** Frame rate the timestamps assume (`index / fps`), e.g. for a writer. Default 25. */
  readonly fps?: number;
}

const DEFAULT_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm'];
/** `extensions`: file name endings with their dot, as `extname` gives them. */
const extensionList: OptionRule = {
  test: (value) => Array.isArray(value) && value.every((extension) => typeof extension === 'string' && /^\.[^./]+$/.test(extension)),
  must: 'an array of file extensions with their dot (e.g. [".png", ".jpg"])',
};
// Natural order: frame2.png before frame10.png, as a person numbering frames means.
const naturalOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/**
 * Reads the images of a folder, in natural file-name order (`img2` before `img10`), as RGB
 * {@link VideoFrame}s decoded by ffmpeg (any format it reads; each image keeps its own size). The
 * list is taken in `open()`: a missing folder fails there with {@link VideoError} `VIDEO_NOT_FOUND`,
 * a folder without images with `IMAGE_UNREADABLE`, and so does an image ffmpeg cannot decode (naming it).
 *
 * @example
 * ```ts
 * const images = new ImageFolderReader({ name: 'images', path: 'shots/' });
 * ```
 */
export class ImageFolderReader extends ProducerNode<VideoFrame> {
  readonly path: string;
  readonly #extensions: ReadonlySet<string>;
  readonly #fps: number;
  #files: string[] = [];
  #current: ReturnType<typeof spawnFfmpeg>['child'] | undefined;

  constructor(options: ImageFolderReaderOptions) {
    const { path, extensions, fps, ...producerOptions } = options;
    super(producerOptions);
    checkOption(this.name, options, 'path', nonEmptyString, true);
    checkOption(this.name, options, 'fps', positiveNumber);
    checkOption(this.name, options, 'extensions', extensionList);
    this.path = path;
    this.#extensions = new Set(extensions ?? DEFAULT_EXTENSIONS);
    this.#fps = fps ?? 25;
  }

  /** The image files read, in order (after `open()`). */
  get files(): readonly string[] {
    return this.#files;
  }

  override open(): void {
    if (!existsSync(this.path) || !statSync(this.path).isDirectory()) {
      const what = existsSync(this.path) ? 'is not a folder' : 'does not exist';
      throw new VideoError(VideoErrorCode.NotFound, `${this.name}: image folder ${this.path} ${what}`, { file: this.path });
    }
    this.#files = readdirSync(this.path)
      .filter((name) => this.#extensions.has(extname(name).toLowerCase()))
      .sort(naturalOrder.compare)
      .map((name) => join(this.path, name));
    if (this.#files.length === 0) {
      throw new VideoError(
        VideoErrorCode.ImageUnreadable,
        `${this.name}: image folder ${this.path} holds no image (${[...this.#extensions].join(' ')})`,
        { file: this.path },
      );
    }
  }

  async *produce(_context: ProduceContext): AsyncGenerator<VideoFrame> {
    for (const [index, file] of this.#files.entries()) {
      const { width, height, data } = await this.#decode(file);
      yield { index, timestampMs: (index * 1000) / this.#fps, width, height, channels: 3, data };
    }
  }

  /** One image through ffmpeg as a binary PPM: its header carries the size, so no ffprobe is needed. */
  async #decode(file: string): Promise<{ width: number; height: number; data: Uint8Array }> {
    const { child, stderr } = spawnFfmpeg(
      ['-nostdin', '-i', file, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'ppm', '-pix_fmt', 'rgb24', '-'],
      'ignore',
    );
    this.#current = child;
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) chunks.push(chunk);
      const code = await exited(child);
      const image = code === 0 ? parsePpm(Buffer.concat(chunks)) : undefined;
      if (image === undefined) {
        const why = lastLines(stderr()) || `ffmpeg exited with ${String(code)}`;
        throw new VideoError(VideoErrorCode.ImageUnreadable, `${this.name}: cannot decode image ${file}: ${why}`, { file });
      }
      return image;
    } finally {
      this.#current = undefined;
      await stopProcess(child);
    }
  }

  override async close(): Promise<void> {
    await stopProcess(this.#current);
  }
}

/** Parses a binary PPM (`P6 <width> <height> 255` then RGB bytes); undefined when it is not one. */
export function parsePpm(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } | undefined {
  const fields: number[] = [];
  let at = 2;
  if (bytes[0] !== 0x50 || bytes[1] !== 0x36) return undefined; // "P6"
  while (fields.length < 3 && at < bytes.length) {
    while (at < bytes.length && isSpace(bytes[at] as number)) at += 1;
    if (bytes[at] === 0x23) {
      while (at < bytes.length && bytes[at] !== 0x0a) at += 1; // a comment, to the end of the line
      continue;
    }
    let value = 0;
    let digits = 0;
    while (at < bytes.length && (bytes[at] as number) >= 0x30 && (bytes[at] as number) <= 0x39) {
      value = value * 10 + (bytes[at] as number) - 0x30;
      at += 1;
      digits += 1;
    }
    if (digits === 0) return undefined;
    fields.push(value);
  }
  const [width, height, max] = fields;
  if (width === undefined || height === undefined || max !== 255) return undefined;
  const start = at + 1; // exactly one whitespace byte after the maximum value
  const data = bytes.subarray(start, start + width * height * 3);
  return data.length === width * height * 3 ? { width, height, data: new Uint8Array(data) } : undefined;
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}
