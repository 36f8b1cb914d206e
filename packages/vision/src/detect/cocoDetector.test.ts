import { describe, expect, it } from 'vitest';
import { CENTERNET_INPUT_SIZE, decodeCenternet } from './cocoDetector.js';

const S = CENTERNET_INPUT_SIZE;
const row = (x1: number, y1: number, x2: number, y2: number, score: number, classId: number) => [x1, y1, x2, y2, score, classId];

describe('decodeCenternet', () => {
  const options = { width: 2 * S, height: S, minScore: 0.3, nmsIouThreshold: 0.5 };

  it('scales boxes from the 512×512 input back to the frame, names the COCO class, drops low scores', () => {
    const rows = [...row(100, 50, 200, 250, 0.9, 0), ...row(10, 10, 20, 20, 0.2, 2), ...row(300, 300, 400, 400, 0.6, 2)];
    expect(decodeCenternet(rows, options)).toEqual([
      { x: 200, y: 50, w: 200, h: 200, label: 'person', classId: 0, score: expect.closeTo(0.9, 5) },
      { x: 600, y: 300, w: 200, h: 100, label: 'car', classId: 2, score: expect.closeTo(0.6, 5) },
    ]);
  });

  it('keeps the best of overlapping boxes of one label, but not across labels', () => {
    const rows = [...row(100, 100, 200, 300, 0.5, 0), ...row(102, 98, 204, 296, 0.7, 0), ...row(100, 100, 200, 300, 0.4, 7)];
    const found = decodeCenternet(rows, options);
    expect(found.map((detection) => [detection.label, detection.score])).toEqual([
      ['person', expect.closeTo(0.7, 5)],
      ['truck', expect.closeTo(0.4, 5)],
    ]);
  });

  it('clips boxes to the frame and ignores empty boxes and unknown classes', () => {
    const rows = [...row(-20, 500, 40, 600, 0.9, 0), ...row(50, 50, 50, 80, 0.9, 0), ...row(10, 10, 60, 60, 0.9, 80)];
    expect(decodeCenternet(rows, options)).toEqual([
      { x: 0, y: 500, w: 80, h: 12, label: 'person', classId: 0, score: expect.closeTo(0.9, 5) },
    ]);
  });
});
