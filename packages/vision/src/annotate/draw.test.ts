import { describe, expect, it } from 'vitest';
import { BOX_MARGIN, BOX_THICKNESS, drawTrack, trackColor } from './draw.js';

describe('drawTrack', () => {
  it('frames the box outside it in the track colour, leaves the inside alone, and clips at the edges', () => {
    const canvas = { width: 60, height: 40, data: new Uint8Array(60 * 40 * 3) };
    drawTrack(canvas, { x: 2, y: 10, w: 20, h: 12 }, 2);
    const at = (x: number, y: number) => [...canvas.data.subarray(3 * (y * 60 + x), 3 * (y * 60 + x) + 3)];
    const color = [...trackColor(2)];
    const line = BOX_MARGIN + 1; // inside the line's thickness, outside the box
    expect(at(2 + 20 + line, 16)).toEqual(color); // right side
    expect(at(12, 10 + 12 + line)).toEqual(color); // bottom side
    expect(at(12, 16)).toEqual([0, 0, 0]); // inside untouched
    expect(at(2 + 20 + BOX_MARGIN + BOX_THICKNESS + 1, 16)).toEqual([0, 0, 0]); // beyond the line
  });
});
