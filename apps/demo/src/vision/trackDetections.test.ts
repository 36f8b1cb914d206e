import type { FrameDetections } from '@vf/vision';
import { describe, expect, it } from 'vitest';
import { trackDetections } from './trackDetections.js';

const frame = (index: number, ...xs: number[]): FrameDetections => ({
  index,
  timestampMs: index * 40,
  width: 320,
  height: 180,
  detections: xs.map((x) => ({ x, y: 50, w: 20, h: 20, area: 400, label: 'object', score: 1 })),
});

describe('trackDetections', () => {
  it('tracks and counts as the flow does: confirmed tracks only, spans per track', () => {
    // One object all along; a second one appears at frame 4 and needs minHits (3) frames to count.
    const frames = [0, 1, 2, 3, 4, 5, 6, 7].map((index) => (index < 4 ? frame(index, 10 + 3 * index) : frame(index, 10 + 3 * index, 200)));
    const { frames: tracked, counts } = trackDetections(frames, { minHits: 3 });
    expect(tracked.map((entry) => entry.tracks.map((track) => track.id))).toEqual([[1], [1], [1], [1], [1], [1], [1, 2], [1, 2]]);
    expect(counts).toMatchObject({ frames: 8, detections: 12, maxObjectsInFrame: 2, tracks: 2 });
    expect(counts.spans).toEqual([
      { id: 1, label: 'object', firstFrame: 0, lastFrame: 7, frames: 8 },
      { id: 2, label: 'object', firstFrame: 6, lastFrame: 7, frames: 2 },
    ]);
    const [first] = tracked[7]?.tracks ?? [];
    expect(Object.values(first?.box ?? {}).every((value) => Math.round(value * 100) === value * 100)).toBe(true);
  });
});
