import { describe, expect, it } from 'vitest';
import type { Detection } from '../detect/box.js';
import { SortTracker } from './sortTracker.js';
import { TrackTally } from './trackTally.js';

const at = (x: number, label: string): Detection => ({ x, y: 40, w: 30, h: 30, label, score: 0.9 });

describe('TrackTally', () => {
  it('counts tracks, detections and the most at once per class, and the backends seen', () => {
    const tracker = new SortTracker({ minHits: 1 });
    const tally = new TrackTally();
    for (let index = 0; index < 6; index++) {
      const detections = [at(10 + 2 * index, 'person'), at(200 - 2 * index, 'person'), at(400, 'car')];
      tally.add(index, detections, tracker.update(detections, index), 'tensorflow.js wasm (@tensorflow/tfjs)');
    }
    const counts = tally.counts;
    expect(counts).toMatchObject({
      frames: 6,
      detections: 18,
      tracks: 3,
      maxObjectsInFrame: 3,
      backends: ['tensorflow.js wasm (@tensorflow/tfjs)'],
    });
    expect(counts.classes).toEqual({
      car: { tracks: 1, detections: 6, maxInFrame: 1 },
      person: { tracks: 2, detections: 12, maxInFrame: 2 },
    });
    expect(counts.spans.map((span) => [span.id, span.label, span.frames])).toEqual([
      [1, 'person', 6],
      [2, 'person', 6],
      [3, 'car', 6],
    ]);
  });

  it('never continues a track with a detection of another label', () => {
    const tracker = new SortTracker({ minHits: 1 });
    const [first] = tracker.update([at(100, 'person')], 0);
    const [second] = tracker.update([at(101, 'dog')], 1);
    expect(second?.id).not.toBe(first?.id);
    expect(second?.label).toBe('dog');
  });
});
