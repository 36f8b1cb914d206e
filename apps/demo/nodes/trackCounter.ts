import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConsumerNode, type ConsumerOptions } from '@vf/core';
import { type TrackCounts, TrackTally } from '../src/vision/trackTally.js';
import type { TrackedFrame } from './sortTrackerNode.js';

export type { TrackCounts, TrackSpan } from '../src/vision/trackTally.js';

/** Options of {@link TrackCounter}. */
export interface TrackCounterOptions extends ConsumerOptions {
  /** JSON file the counts are written to when the stream ends. */
  readonly path: string;
}

/**
 * Counts frames, detections and distinct confirmed tracks ({@link TrackTally}), and writes them as JSON ({@link TrackCounts})
 * to `path` in `close()`, so the counts survive the task process: the application reads the file
 * after `flow.join()`.
 */
export class TrackCounter extends ConsumerNode<[TrackedFrame]> {
  readonly path: string;
  readonly #tally = new TrackTally();

  constructor(options: TrackCounterOptions) {
    const { path, ...consumerOptions } = options;
    super(consumerOptions);
    this.path = path;
  }

  consume(frame: TrackedFrame): void {
    this.#tally.add(frame.index, frame.detections.length, frame.tracks);
  }

  /** The counts so far. */
  get counts(): TrackCounts {
    return this.#tally.counts;
  }

  override close(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(this.path, `${JSON.stringify(this.counts, null, 2)}\n`);
  }
}
