import type { Track } from './sortTracker.js';

/** One confirmed track in the {@link TrackCounts}. */
export interface TrackSpan {
  readonly id: number;
  /** The track's class (its most frequent detection label). */
  readonly label: string;
  readonly firstFrame: number;
  readonly lastFrame: number;
  /** Frames in which it was seen (matched to a detection). */
  readonly frames: number;
}

/** Counts for one class in the {@link TrackCounts}. */
export interface ClassCount {
  /** Distinct confirmed tracks of this class: the objects counted. */
  readonly tracks: number;
  /** Detections of this class over all frames. */
  readonly detections: number;
  /** The most confirmed tracks of this class in one frame. */
  readonly maxInFrame: number;
}

/** What a {@link TrackTally} counts: how many frames, objects and tracks it saw, overall and per class. */
export interface TrackCounts {
  readonly frames: number;
  /** Detections over all frames. */
  readonly detections: number;
  /** The most confirmed tracks in one frame: objects on screen at once. */
  readonly maxObjectsInFrame: number;
  /** Distinct confirmed tracks: the objects counted. */
  readonly tracks: number;
  /** Per class (label): tracks, detections and the most at once. */
  readonly classes: Readonly<Record<string, ClassCount>>;
  /** Per track, by id. */
  readonly spans: readonly TrackSpan[];
  /** The detector backends that produced the detections (see `FrameDetections.backend`), in order seen. */
  readonly backends: readonly string[];
}

/**
 * Counts frames, detections and distinct confirmed tracks, frame by frame, overall and per class.
 * Shared by the {@link TrackCounter} node and offline tracking, so both count the same way.
 */
export class TrackTally {
  #frames = 0;
  #detections = 0;
  #maxObjects = 0;
  readonly #spans = new Map<number, { id: number; label: string; firstFrame: number; lastFrame: number; frames: number }>();
  readonly #classDetections = new Map<string, number>();
  readonly #classMax = new Map<string, number>();
  readonly #backends = new Set<string>();

  /**
   * Adds frame `index` with its detections (or their count) and the tracks the tracker matched in
   * it, and the backend that detected them when known.
   */
  add(index: number, detections: number | ReadonlyArray<{ readonly label: string }>, tracks: readonly Track[], backend?: string): void {
    this.#frames += 1;
    if (typeof detections === 'number') this.#detections += detections;
    else {
      this.#detections += detections.length;
      for (const { label } of detections) this.#classDetections.set(label, (this.#classDetections.get(label) ?? 0) + 1);
    }
    if (backend !== undefined) this.#backends.add(backend);
    const confirmed = tracks.filter((track) => track.confirmed);
    this.#maxObjects = Math.max(this.#maxObjects, confirmed.length);
    const inFrame = new Map<string, number>();
    for (const track of confirmed) {
      inFrame.set(track.label, (inFrame.get(track.label) ?? 0) + 1);
      const span = this.#spans.get(track.id);
      if (span === undefined)
        this.#spans.set(track.id, { id: track.id, label: track.label, firstFrame: index, lastFrame: index, frames: 1 });
      else {
        span.label = track.label;
        span.lastFrame = index;
        span.frames += 1;
      }
    }
    for (const [label, count] of inFrame) this.#classMax.set(label, Math.max(this.#classMax.get(label) ?? 0, count));
  }

  /** The counts so far. */
  get counts(): TrackCounts {
    const spans = [...this.#spans.values()].sort((a, b) => a.id - b.id).map((span) => ({ ...span }));
    const labels = new Set([...this.#classDetections.keys(), ...spans.map((span) => span.label)]);
    const classes: Record<string, ClassCount> = {};
    for (const label of [...labels].sort()) {
      classes[label] = {
        tracks: spans.filter((span) => span.label === label).length,
        detections: this.#classDetections.get(label) ?? 0,
        maxInFrame: this.#classMax.get(label) ?? 0,
      };
    }
    return {
      frames: this.#frames,
      detections: this.#detections,
      maxObjectsInFrame: this.#maxObjects,
      tracks: spans.length,
      classes,
      spans,
      backends: [...this.#backends],
    };
  }
}
