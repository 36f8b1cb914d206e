import { describe, expect, it } from 'vitest';
import type { FrameDetections } from '../detect/objectDetector.js';
import type { VideoFrame } from '../video/videoFrame.js';
import { BoxAnnotator } from './boxAnnotator.js';
import { BOX_MARGIN, labelColor } from './draw.js';

const frame: VideoFrame = { index: 2, timestampMs: 80, width: 80, height: 60, channels: 3, data: new Uint8Array(80 * 60 * 3) };
const found: FrameDetections = {
  index: 2,
  timestampMs: 80,
  width: 80,
  height: 60,
  detections: [{ x: 20, y: 30, w: 20, h: 20, label: 'person', classId: 0, score: 0.87 }],
};
const pixel = (image: VideoFrame, x: number, y: number) => [
  ...image.data.subarray(3 * (y * image.width + x), 3 * (y * image.width + x) + 3),
];

describe('BoxAnnotator', () => {
  it('frames each detection in its class colour with a label tab above it, on a copy', () => {
    const out = new BoxAnnotator().process(frame, found);
    expect(pixel(out, 20 + 20 + BOX_MARGIN + 1, 40)).toEqual([...labelColor('person')]); // right side of the box
    expect(pixel(out, 30, 40)).toEqual([0, 0, 0]); // inside untouched
    expect(pixel(out, 16, 30 - BOX_MARGIN - 3 - 2)).toEqual([...labelColor('person')]); // the tab
    expect(frame.data.every((value) => value === 0)).toBe(true);
  });

  it('refuses detections of another frame', () => {
    expect(() => new BoxAnnotator({ name: 'boxes' }).process(frame, { ...found, index: 3 })).toThrow(
      /boxes: frame 2 was aligned with the detections of frame 3/,
    );
  });
});
