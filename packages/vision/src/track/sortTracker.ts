import { VfError } from '@vf/core';
import { inverse, Matrix } from 'ml-matrix';
import munkres from 'munkres';
import { type Box, type Detection, iou } from '../detect/box.js';
import { boolean, checkOption, integerFrom, numberIn, optionsObject } from '../options.js';

/** One tracked object in one frame. */
export interface Track {
  /** Stable id, from 1, never reused by the same tracker. */
  readonly id: number;
  /** The Kalman filter's estimate of the box in this frame. */
  readonly box: Box;
  /** The detection matched to the track in this frame. */
  readonly detection: Detection;
  /** The class of the object: the label most of its matched detections had. */
  readonly label: string;
  /** Frames in which the track was matched so far, the one that started it included. */
  readonly hits: number;
  /** True once matched in `minHits` consecutive frames (or in the first frames of the video): a real object, not a blip. */
  readonly confirmed: boolean;
}

/** Options of {@link SortTracker}. */
export interface SortTrackerOptions {
  /** Frames a track survives without a match. Default 5. */
  readonly maxAge?: number;
  /** Consecutive matches before a track is confirmed. Default 3. */
  readonly minHits?: number;
  /** Smallest IoU between a prediction and a detection for a match. Default 0.2. */
  readonly iouThreshold?: number;
  /** Match a detection only to tracks of its label (a person never continues a car's track). Default true. */
  readonly matchLabels?: boolean;
}

/**
 * Throws `FlowValidationError` `INVALID_OPTION`, naming `owner` (a node, or `SortTracker`), unless
 * `options` are valid {@link SortTrackerOptions}.
 */
export function checkSortTrackerOptions(owner: string, options: SortTrackerOptions): void {
  checkOption(owner, options, 'maxAge', integerFrom(0));
  checkOption(owner, options, 'minHits', integerFrom(0));
  checkOption(owner, options, 'iouThreshold', numberIn(0, 1));
  checkOption(owner, options, 'matchLabels', boolean);
}

/**
 * SORT (Bewley et al., 2016, "Simple Online and Realtime Tracking"): one constant-velocity Kalman
 * filter per track over `[cx, cy, area, aspect, vcx, vcy, varea]`, detections assigned to the
 * predicted boxes by the Hungarian algorithm on `1 − IoU` (the `munkres` package), unmatched
 * detections start tracks, tracks unmatched for `maxAge` frames end. Stateful: one per stream.
 *
 * Frame indices may skip (a realtime engine drops frames): the filter then predicts once per frame
 * elapsed, so a track's motion model stays in step with time rather than with messages.
 */
export class SortTracker {
  readonly #maxAge: number;
  readonly #minHits: number;
  readonly #iouThreshold: number;
  readonly #matchLabels: boolean;
  #tracks: KalmanBoxTrack[] = [];
  #nextId = 1;
  #frames = 0;
  #lastIndex: number | undefined;

  /** Throws `FlowValidationError` `INVALID_OPTION` for an invalid option. */
  constructor(options: SortTrackerOptions = {}) {
    checkSortTrackerOptions('SortTracker', optionsObject('SortTracker', options, '{ maxAge?, ... }'));
    this.#maxAge = options.maxAge ?? 5;
    this.#minHits = options.minHits ?? 3;
    this.#iouThreshold = options.iouThreshold ?? 0.2;
    this.#matchLabels = options.matchLabels ?? true;
  }

  /**
   * Advances to frame `index` with its detections; returns the tracks matched in this frame. Throws
   * `VfError` `INVALID_TRACKER_INPUT` (the tracker unchanged) for an index that is not an integer or
   * a detection whose box is not finite with a positive width and height.
   */
  update(detections: readonly Detection[], index: number): Track[] {
    checkTrackerInput(detections, index);
    const steps = this.#lastIndex === undefined ? 1 : Math.max(1, index - this.#lastIndex);
    this.#lastIndex = index;
    this.#frames += 1;
    // A track missed in more than maxAge frames is over, however many of them the engine dropped:
    // it must not be matched again (and its prediction over a long gap is not worth computing).
    for (const track of this.#tracks) track.predict(steps, this.#maxAge + 2);
    this.#tracks = this.#tracks.filter((track) => track.valid && track.framesSinceUpdate <= this.#maxAge + 1);

    const matched = new Set<number>();
    const matches: Array<[KalmanBoxTrack, Detection]> = [];
    if (this.#tracks.length > 0 && detections.length > 0) {
      const cost = this.#tracks.map((track) =>
        detections.map((detection) => (this.#matchLabels && detection.label !== track.label ? 1 : 1 - iou(track.box, detection))),
      );
      for (const [row, column] of munkres(cost)) {
        const track = this.#tracks[row] as KalmanBoxTrack;
        const detection = detections[column] as Detection;
        if (1 - (cost[row]?.[column] ?? 1) < this.#iouThreshold) continue;
        matches.push([track, detection]);
        matched.add(column);
      }
    }
    for (const [track, detection] of matches) track.update(detection);
    detections.forEach((detection, column) => {
      if (!matched.has(column)) this.#tracks.push(new KalmanBoxTrack(this.#nextId++, detection));
    });
    this.#tracks = this.#tracks.filter((track) => track.framesSinceUpdate <= this.#maxAge);

    return this.#tracks
      .filter((track) => track.framesSinceUpdate === 0 && track.detection !== undefined)
      .map((track) => ({
        id: track.id,
        box: track.box,
        detection: track.detection as Detection,
        label: track.label,
        hits: track.hits,
        confirmed: track.hitStreak >= this.#minHits || this.#frames <= this.#minHits,
      }));
  }
}

// The constant-velocity model of SORT: state [cx, cy, s, r, vcx, vcy, vs] (s: area, r: aspect ratio).
const F = Matrix.eye(7, 7);
for (let i = 0; i < 3; i++) F.set(i, i + 4, 1);
const H = Matrix.eye(4, 7);
// Measurement noise: our detections are pixel-accurate, so trust them more than SORT's defaults do.
const R = Matrix.diag([1, 1, 10, 0.01]);
const Q = Matrix.diag([1, 1, 1, 1, 0.01, 0.01, 0.0001]);

class KalmanBoxTrack {
  readonly id: number;
  #x: Matrix;
  #P: Matrix;
  hits = 1;
  hitStreak = 1;
  framesSinceUpdate = 0;
  detection: Detection | undefined;
  readonly #labels = new Map<string, number>();

  constructor(id: number, detection: Detection) {
    this.id = id;
    this.detection = detection;
    this.#labels.set(detection.label, 1);
    this.#x = new Matrix([...toMeasurement(detection), 0, 0, 0].map((value) => [value]));
    // Unknown velocities start with a large uncertainty.
    this.#P = Matrix.diag([10, 10, 10, 10, 1e4, 1e4, 1e4]);
  }

  /** The label seen most often (the first seen on a tie). */
  get label(): string {
    let best = '';
    let most = 0;
    for (const [label, count] of this.#labels) {
      if (count > most) {
        best = label;
        most = count;
      }
    }
    return best;
  }

  /** The current box estimate. */
  get box(): Box {
    return toBox(this.#x);
  }

  /** False once the predicted area has collapsed (a filter diverging on a vanished object). */
  get valid(): boolean {
    const area = this.#x.get(2, 0);
    return Number.isFinite(area) && area > 0;
  }

  /** Moves the filter `steps` frames on (at most `maxSteps` computed: a track that far behind is dropped anyway). */
  predict(steps: number, maxSteps: number): void {
    for (let step = 0; step < Math.min(steps, maxSteps); step++) {
      // An area about to turn negative stops shrinking (as SORT does).
      if (this.#x.get(2, 0) + this.#x.get(6, 0) <= 0) this.#x.set(6, 0, 0);
      this.#x = F.mmul(this.#x);
      this.#P = F.mmul(this.#P).mmul(F.transpose()).add(Q);
    }
    // A missed detection breaks the streak; frames the engine dropped (steps > 1) do not.
    if (this.framesSinceUpdate > 0) this.hitStreak = 0;
    this.framesSinceUpdate += steps;
    this.detection = undefined;
  }

  update(detection: Detection): void {
    const z = new Matrix(toMeasurement(detection).map((value) => [value]));
    const y = z.sub(H.mmul(this.#x));
    const S = H.mmul(this.#P).mmul(H.transpose()).add(R);
    const K = this.#P.mmul(H.transpose()).mmul(inverse(S));
    this.#x = this.#x.add(K.mmul(y));
    this.#P = Matrix.eye(7, 7).sub(K.mmul(H)).mmul(this.#P);
    this.framesSinceUpdate = 0;
    this.hits += 1;
    this.hitStreak += 1;
    this.detection = detection;
    this.#labels.set(detection.label, (this.#labels.get(detection.label) ?? 0) + 1);
  }
}

function checkTrackerInput(detections: readonly Detection[], index: number): void {
  if (!Number.isInteger(index)) {
    throw new VfError('INVALID_TRACKER_INPUT', `SortTracker: the frame index must be an integer, got ${String(index)}`, {
      details: { index: String(index) },
    });
  }
  detections.forEach((detection, at) => {
    const { x, y, w, h } = detection;
    if ([x, y, w, h].every(Number.isFinite) && w > 0 && h > 0) return;
    throw new VfError(
      'INVALID_TRACKER_INPUT',
      `SortTracker: detection ${at} of frame ${index} has the box x ${x}, y ${y}, w ${w}, h ${h}; a tracked box needs finite numbers and a positive width and height`,
      { details: { index, detection: at, box: { x: String(x), y: String(y), w: String(w), h: String(h) } } },
    );
  });
}

function toMeasurement(box: Box): [number, number, number, number] {
  return [box.x + box.w / 2, box.y + box.h / 2, box.w * box.h, box.w / box.h];
}

function toBox(x: Matrix): Box {
  const area = Math.max(0, x.get(2, 0));
  const aspect = Math.max(1e-6, x.get(3, 0));
  const w = Math.sqrt(area * aspect);
  const h = w > 0 ? area / w : 0;
  return { x: x.get(0, 0) - w / 2, y: x.get(1, 0) - h / 2, w, h };
}
