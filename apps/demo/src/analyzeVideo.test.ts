import { describe, expect, it } from 'vitest';
import { type CounterReport, framesToRead, summarizeCounts } from './analyzeVideo.js';

describe('summarizeCounts', () => {
  it('passes the counter report through: per class, per track (with labels), and fields it does not know', () => {
    // A labelled track, as a class-aware counter writes it (a field the motion detector's tally lacks).
    const span = { id: 1, firstFrame: 0, lastFrame: 149, frames: 150, label: 'person' };
    const counts: CounterReport = {
      frames: 150,
      detections: 290,
      maxObjectsInFrame: 3,
      tracks: 4,
      classes: { person: { tracks: 3, detections: 260, maxInFrame: 2 }, car: { tracks: 1, detections: 30, maxInFrame: 1 } },
      spans: [span],
      backends: ['wasm'],
    };
    const summary = summarizeCounts(counts);
    expect(summary).toMatchObject({ frames: 150, detections: 290, objects: 3, tracks: 4 });
    expect(summary.classes).toEqual(counts.classes);
    expect(summary.trackSpans).toEqual([span]);
    expect(summary.backends).toEqual(['wasm']);
    expect(summary.counts?.backends).toEqual(['wasm']);
  });

  it('without a report (the counter never closed): zeros, and no classes', () => {
    const summary = summarizeCounts(undefined);
    expect(summary).toEqual({ frames: 0, detections: 0, objects: 0, tracks: 0, trackSpans: [] });
  });

  it('a counter without classes (the motion detector counts unlabelled tracks): no classes field', () => {
    const summary = summarizeCounts({ frames: 2, detections: 2, maxObjectsInFrame: 1, tracks: 1, spans: [] });
    expect(summary).not.toHaveProperty('classes');
    expect(summary.tracks).toBe(1);
  });
});

describe('framesToRead', () => {
  it('the first maxSeconds of a video, in frames at its frame rate', () => {
    expect(framesToRead({ fps: 10, frames: 795 }, 20)).toBe(200);
    expect(framesToRead({ fps: 25, frames: 0 }, 0.5)).toBe(13); // 12.5 rounded; frame count unknown
    expect(framesToRead({ fps: 10, frames: 795 }, 0.01)).toBe(1);
  });

  it('undefined (read everything) for 0 or a slice as long as the video', () => {
    expect(framesToRead({ fps: 10, frames: 795 }, 0)).toBeUndefined();
    expect(framesToRead({ fps: 10, frames: 795 }, 79.5)).toBeUndefined();
    expect(framesToRead({ fps: 10, frames: 795 }, 1000)).toBeUndefined();
  });
});
