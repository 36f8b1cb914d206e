import { describe, expect, it } from 'vitest';
import type { VideoFrame } from '../video/videoFrame.js';
import { CropTransformer, cropFrame, ResizeTransformer, resizeFrame } from './transformers.js';

/** A frame whose pixel (x, y) holds `[x, y, 10 × channel]` (channels 1 or 3). */
function gridFrame(width: number, height: number, channels = 3): VideoFrame {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = [x, y, 10 * c][c] as number;
    }
  }
  return { index: 4, timestampMs: 160, width, height, channels, data };
}

describe('cropFrame', () => {
  it('keeps the pixels inside the box, clipped to the frame, with the frame identity', () => {
    const crop = cropFrame(gridFrame(10, 8), { x: 7.2, y: 5, w: 5, h: 2 });
    expect(crop).toMatchObject({ index: 4, timestampMs: 160, width: 3, height: 2, channels: 3 });
    expect([...crop.data.subarray(0, 3)]).toEqual([7, 5, 20]);
    expect([...crop.data.subarray(15, 18)]).toEqual([9, 6, 20]); // last pixel
  });

  it('gives an empty frame for a box outside', () => {
    expect(cropFrame(gridFrame(4, 4), { x: 10, y: 10, w: 3, h: 3 })).toMatchObject({ width: 0, height: 0, data: new Uint8Array(0) });
  });
});

describe('resizeFrame', () => {
  it('is the identity at the same size and interpolates linearly in between', () => {
    const frame = gridFrame(8, 4, 1);
    expect(resizeFrame(frame, 8, 4).data).toEqual(frame.data);
    // Halving: each output pixel is the mean of two input columns (x = 2i, 2i+1) → 2i + 0.5, rounded.
    const half = resizeFrame(frame, 4, 4);
    expect([...half.data.subarray(0, 4)]).toEqual([1, 3, 5, 7]);
    expect(half).toMatchObject({ width: 4, height: 4, channels: 1, index: 4 });
  });
});

describe('transformer nodes', () => {
  it('validate their options at construction with a coded error', () => {
    expect(() => new CropTransformer({ box: { x: 0, y: 0, w: 0, h: 5 } })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => new ResizeTransformer({ width: 10.5, height: 4 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('process frames', () => {
    expect(new CropTransformer({ box: { x: 1, y: 1, w: 2, h: 2 } }).process(gridFrame(4, 4))).toMatchObject({ width: 2, height: 2 });
    expect(new ResizeTransformer({ width: 2, height: 3 }).process(gridFrame(4, 4))).toMatchObject({ width: 2, height: 3 });
  });
});
