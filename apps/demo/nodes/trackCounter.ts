import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConsumerNode, type ConsumerOptions } from '@vf/core';
import type { TrackedFrame } from './sortTrackerNode.js';

/** One confirmed track in the {@link TrackCounts}. */
export interface TrackSpan {
  readonly id: number;
  readonly firstFrame: number;
  readonly lastFrame: number;
  /** Frames in which it was seen (matched to a detection). */
  readonly frames: number;
}

/** What {@link TrackCounter} writes: how many frames, objects and tracks it saw. */
export interface TrackCounts {
  readonly frames: number;
  /** Detections over all frames. */
  readonly detections: number;
  /** The most confirmed tracks in one frame: objects on screen at once. */
  readonly maxObjectsInFrame: number;
  /** Distinct confirmed tracks: the objects counted. */
  readonly tracks: number;
  readonly spans: readonly TrackSpan[];
}

/** Options of {@link TrackCounter}. */
export interface TrackCounterOptions extends ConsumerOptions {
  /** JSON file the counts are written to when the stream ends. */
  readonly path: string;
}

/**
 * Counts frames, detections and distinct confirmed tracks, and writes them as JSON ({@link TrackCounts})
 * to `path` in `close()`, so the counts survive the task process: the application reads the file
 * after `flow.join()`.
 */
export class TrackCounter extends ConsumerNode<[TrackedFrame]> {
  readonly path: string;
  #frames = 0;
  #detections = 0;
  #maxObjects = 0;
  readonly #spans = new Map<number, { id: number; firstFrame: number; lastFrame: number; frames: number }>();

  constructor(options: TrackCounterOptions) {
    const { path, ...consumerOptions } = options;
    super(consumerOptions);
    this.path = path;
  }

  consume(frame: TrackedFrame): void {
    this.#frames += 1;
    this.#detections += frame.detections.length;
    const confirmed = frame.tracks.filter((track) => track.confirmed);
    this.#maxObjects = Math.max(this.#maxObjects, confirmed.length);
    for (const track of confirmed) {
      const span = this.#spans.get(track.id);
      if (span === undefined) this.#spans.set(track.id, { id: track.id, firstFrame: frame.index, lastFrame: frame.index, frames: 1 });
      else {
        span.lastFrame = frame.index;
        span.frames += 1;
      }
    }
  }

  /** The counts so far. */
  get counts(): TrackCounts {
    return {
      frames: this.#frames,
      detections: this.#detections,
      maxObjectsInFrame: this.#maxObjects,
      tracks: this.#spans.size,
      spans: [...this.#spans.values()].sort((a, b) => a.id - b.id),
    };
  }

  override close(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(this.path, `${JSON.stringify(this.counts, null, 2)}\n`);
  }
}
