import { type Box, type FrameDetections, SortTracker, type SortTrackerOptions, type TrackCounts, TrackTally } from '@vf/vision';

/** The confirmed tracks of one frame, as the project's `track` operation writes them (one line each). */
export interface FrameTracks {
  readonly index: number;
  readonly tracks: ReadonlyArray<{ readonly id: number; readonly box: Box }>;
}

/**
 * Runs SORT ({@link SortTracker}) over frames of detections, in the order given (frame order), and
 * counts as the flow's `TrackCounter` does ({@link TrackTally}): the tracking of the demo's main
 * flow, offline, on detections written earlier. Boxes are rounded to 0.01 pixel.
 */
export function trackDetections(
  frames: Iterable<FrameDetections>,
  options: SortTrackerOptions = {},
): { readonly frames: FrameTracks[]; readonly counts: TrackCounts } {
  const tracker = new SortTracker(options);
  const tally = new TrackTally();
  const tracked: FrameTracks[] = [];
  for (const frame of frames) {
    const tracks = tracker.update(frame.detections, frame.index);
    tally.add(frame.index, frame.detections, tracks, frame.backend);
    tracked.push({
      index: frame.index,
      tracks: tracks.filter((track) => track.confirmed).map((track) => ({ id: track.id, box: roundBox(track.box) })),
    });
  }
  return { frames: tracked, counts: tally.counts };
}

function roundBox(box: Box): Box {
  const round = (value: number) => Math.round(value * 100) / 100;
  return { x: round(box.x), y: round(box.y), w: round(box.w), h: round(box.h) };
}
