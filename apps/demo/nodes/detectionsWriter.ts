import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { ConsumerNode, type ConsumerOptions } from '@vf/core';
import type { FrameDetections } from '@vf/vision';

/** Options of {@link DetectionsWriter}. */
export interface DetectionsWriterOptions extends ConsumerOptions {
  /** The JSON Lines file to write (replaced if it exists). */
  readonly path: string;
}

/**
 * Writes each frame's detections as one line of JSON ({@link FrameDetections}) to `path`, streamed
 * (a long video's detections never sit in memory) and in frame order (the batch engine delivers a
 * replicated detector's outputs in input order). `close()` ends the file also when the flow failed
 * or was stopped, so the file alone does not say the video was finished: whoever runs the flow
 * decides from its report whether to keep it (the `detect` operation renames it only on success).
 */
export class DetectionsWriter extends ConsumerNode<[FrameDetections]> {
  readonly path: string;
  #out: WriteStream | undefined;
  #error: Error | undefined;

  constructor(options: DetectionsWriterOptions) {
    const { path, ...consumerOptions } = options;
    super(consumerOptions);
    this.path = path;
  }

  override async open(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    const out = createWriteStream(this.path);
    // Remember a write error instead of letting the 'error' event kill the task unexplained.
    out.on('error', (error) => {
      this.#error = error;
    });
    await once(out, 'open');
    this.#out = out;
  }

  async consume(frame: FrameDetections): Promise<void> {
    const out = this.#out;
    if (out === undefined) throw new Error(`${this.name}: consume() before open()`);
    if (this.#error !== undefined) throw this.#error;
    const { index, timestampMs, width, height, detections } = frame;
    const line = { index, timestampMs, width, height, detections };
    if (!out.write(`${JSON.stringify(line)}\n`)) await once(out, 'drain');
  }

  override async close(): Promise<void> {
    const out = this.#out;
    this.#out = undefined;
    if (out === undefined) return;
    if (!out.destroyed) await new Promise<void>((resolve) => out.end(resolve));
    if (this.#error !== undefined) throw new Error(`${this.name}: cannot write ${this.path}: ${this.#error.message}`);
  }
}
