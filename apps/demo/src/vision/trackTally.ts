import type { Track } from './sortTracker.js';

/** One confirmed track in the {@link TrackCounts}. */
export interface TrackSpan {
  readonly id: number;
  readonly firstFrame: number;
  readonly lastFrame: number;
  /** Frames in which it was seen (matched to a detection). */
  readonly frames: number;
}

/** What a {@link TrackTally} counts: how many frames, objects and tracks it saw. */
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

/**
 * Counts frames, detections and distinct confirmed tracks, frame by frame. Shared by the flow's
 * `TrackCounter` node and the project's `track` operation, so both count the same way.
 */
export class TrackTally {
  #frames = 0;
  #detections = 0;
  #maxObjects = 0;
  readonly #spans = new Map<number, { id: number; firstFrame: number; lastFrame: number; frames: number }>();

  /** Adds frame `index` with its detection count and the tracks the tracker matched in it. */
  add(index: number, detections: number, tracks: readonly Track[]): void {
    this.#frames += 1;
    this.#detections += detections;
    const confirmed = tracks.filter((track) => track.confirmed);
    this.#maxObjects = Math.max(this.#maxObjects, confirmed.length);
    for (const track of confirmed) {
      const span = this.#spans.get(track.id);
      if (span === undefined) this.#spans.set(track.id, { id: track.id, firstFrame: index, lastFrame: index, frames: 1 });
      else {
        span.lastFrame = index;
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
      spans: [...this.#spans.values()].sort((a, b) => a.id - b.id).map((span) => ({ ...span })),
    };
  }
}
