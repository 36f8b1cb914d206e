import { describe, expect, it } from 'vitest';
import { describeClasses } from './cli.js';

describe('describeClasses', () => {
  it('one phrase per class, in the order of the counter report, singular for one track', () => {
    const classes = { car: { tracks: 1, detections: 30, maxInFrame: 1 }, person: { tracks: 9, detections: 412, maxInFrame: 5 } };
    expect(describeClasses(classes)).toBe('car 1 track (30 detections), person 9 tracks (412 detections)');
  });

  it('no classes: none', () => {
    expect(describeClasses({})).toBe('none');
  });
});
