import { isVfError } from '@vf/core';
import { describe, expect, it } from 'vitest';
import type { Detection } from '../detect/box.js';
import { SortTracker } from './sortTracker.js';

const box = (x: number, y: number, w = 40, h = 40): Detection => ({ x, y, w, h, area: w * h, label: 'object', score: 1 });

describe('SortTracker', () => {
  it('keeps one id per object moving steadily, even when two cross paths', () => {
    const tracker = new SortTracker();
    const ids = new Set<number>();
    for (let frame = 0; frame < 40; frame++) {
      // Two objects moving towards each other on separate rows, and a third standing still.
      const tracks = tracker.update([box(10 + 6 * frame, 20), box(250 - 6 * frame, 90), box(400, 200)], frame);
      expect(tracks).toHaveLength(3);
      for (const track of tracks) ids.add(track.id);
    }
    expect([...ids].sort()).toEqual([1, 2, 3]);
  });

  it('confirms a track after minHits matches, and ends it after maxAge missed frames', () => {
    const tracker = new SortTracker({ minHits: 3, maxAge: 2 });
    for (let frame = 0; frame < 4; frame++) tracker.update([box(100, 100)], frame);
    const [late] = tracker.update([box(100, 100), box(300, 300)], 4);
    expect(late?.confirmed).toBe(true);
    const fresh = tracker.update([box(100, 100), box(300, 300)], 5).find((track) => track.id !== late?.id);
    expect(fresh?.confirmed).toBe(false); // matched twice only
    // Object 1 disappears for 3 frames (> maxAge): when it comes back, it is a new track.
    for (let frame = 6; frame < 9; frame++) tracker.update([box(300, 300)], frame);
    const back = tracker.update([box(100, 100), box(300, 300)], 9);
    expect(back.map((track) => track.id).sort()).toEqual([2, 3]);
  });

  it('ends a track missed in more than maxAge frames also when the engine dropped them (a gap in the indices), and predicts no further than that', () => {
    const tracker = new SortTracker({ maxAge: 5 });
    const still = Array.from({ length: 20 }, (_, index) => box(60 * index, 10));
    for (let frame = 0; frame < 4; frame++) tracker.update(still, frame);
    // Missed frames 4-9 (6 > maxAge) as one gap: the same boxes start new tracks.
    expect(tracker.update(still, 10).map((track) => track.id)).toEqual(Array.from({ length: 20 }, (_, index) => 21 + index));
    // A gap of 5 missed frames (11-15, = maxAge) keeps them.
    expect(tracker.update(still, 16).map((track) => track.id)).toEqual(Array.from({ length: 20 }, (_, index) => 21 + index));
    // A gap of a million frames: new tracks again (each of the 20 filters predicted maxAge + 2 steps, not a million).
    expect(tracker.update(still, 1_000_016).map((track) => track.id)).toEqual(Array.from({ length: 20 }, (_, index) => 41 + index));
  });

  it('refuses a detection whose box is not finite with a positive size, or a non-integer index, and stays as it was', () => {
    const tracker = new SortTracker();
    tracker.update([box(10, 10)], 0);
    const refused = (detections: Detection[], index: number) => {
      try {
        tracker.update(detections, index);
      } catch (error) {
        return isVfError(error) ? error.code : error;
      }
      return undefined;
    };
    expect(refused([box(Number.NaN, 12), box(12, 12)], 1)).toBe('INVALID_TRACKER_INPUT');
    expect(refused([box(12, 12, 0, 40)], 1)).toBe('INVALID_TRACKER_INPUT');
    expect(refused([box(12, 12, 40, Number.POSITIVE_INFINITY)], 1)).toBe('INVALID_TRACKER_INPUT');
    expect(refused([box(12, 12)], 1.5)).toBe('INVALID_TRACKER_INPUT');
    // Before, the NaN box took over track 1 (its box became NaN) and the real object started track 2.
    const [track] = tracker.update([box(12, 12)], 1);
    expect(track?.id).toBe(1);
    expect(Number.isFinite(track?.box.x)).toBe(true);
  });

  it('predicts across frames the engine dropped, so a fast object keeps its id', () => {
    const tracker = new SortTracker();
    let id: number | undefined;
    // 12 px per frame; only every 4th frame arrives: 48 px jumps, barely overlapping a 40 px box without prediction.
    for (let frame = 0; frame < 40; frame += frame < 8 ? 1 : 4) {
      const [track] = tracker.update([box(12 * frame, 50)], frame);
      id ??= track?.id;
      expect(track?.id).toBe(id);
    }
  });
});
