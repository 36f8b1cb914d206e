import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConsumerNode, type ConsumerOptions } from '@vf/core';
import { checkOption, nonEmptyString, optionsObject } from '../options.js';
import type { TrackedFrame } from './sortTrackerNode.js';
import { type TrackCounts, TrackTally } from './trackTally.js';

/** Options of {@link TrackCounter}. */
export interface TrackCounterOptions extends ConsumerOptions {
  /** JSON file the counts are written to when the stream ends. Default: none (read {@link TrackCounter.counts} in-process). */
  readonly path?: string;
}

/**
 * Counts frames, detections and distinct confirmed tracks, overall, per class and per track
 * ({@link TrackTally}), and writes them as JSON ({@link TrackCounts}) to `path` in `close()` (also
 * when the flow was stopped or failed: the counts of what was processed), so they survive the task
 * process: the application reads the file after `flow.join()`.
 */
export class TrackCounter extends ConsumerNode<[TrackedFrame]> {
  readonly path: string | undefined;
  readonly #tally = new TrackTally();

  constructor(options: TrackCounterOptions = {}) {
    const { path, ...consumerOptions } = optionsObject(new.target.name, options, '{ path?, ... }');
    super(consumerOptions);
    checkOption(this.name, options, 'path', nonEmptyString);
    this.path = path;
  }

  consume(frame: TrackedFrame): void {
    this.#tally.add(frame.index, frame.detections, frame.tracks, frame.backend);
  }

  /** The counts so far. */
  get counts(): TrackCounts {
    return this.#tally.counts;
  }

  override close(): void {
    if (this.path === undefined) return;
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(this.path, `${JSON.stringify(this.counts, null, 2)}\n`);
  }
}
