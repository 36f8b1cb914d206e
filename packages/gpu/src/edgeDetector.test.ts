import { describe, expect, it, vi } from 'vitest';
import { EdgeDetector, type RgbFrame } from './edgeDetector.js';
import { loadTensorflow } from './tensorflow.js';

/** A deterministic test image: a gradient, some noise-like texture and a bright rectangle. */
function testFrame(width: number, height: number): RgbFrame & { index: number } {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= width / 4 && x < (3 * width) / 4 && y >= height / 3 && y < (2 * height) / 3;
      const offset = (y * width + x) * 3;
      data[offset] = inside ? 250 : (x * 3) & 0xff;
      data[offset + 1] = inside ? 240 : (y * 5 + ((x * y) % 7)) & 0xff;
      data[offset + 2] = inside ? 10 : ((x ^ y) * 11) & 0xff;
    }
  }
  return { index: 7, width, height, data };
}

/** Plain-JS Sobel magnitude with the same conventions: BT.601 gray, repeated border, clipped to 0–255. */
function referenceEdges({ width, height, data }: RgbFrame): Uint8Array {
  const gray = (x: number, y: number) => {
    const offset = (Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))) * 3;
    return 0.299 * (data[offset] ?? 0) + 0.587 * (data[offset + 1] ?? 0) + 0.114 * (data[offset + 2] ?? 0);
  };
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const gx =
        gray(x + 1, y - 1) + 2 * gray(x + 1, y) + gray(x + 1, y + 1) - gray(x - 1, y - 1) - 2 * gray(x - 1, y) - gray(x - 1, y + 1);
      const gy =
        gray(x - 1, y + 1) + 2 * gray(x, y + 1) + gray(x + 1, y + 1) - gray(x - 1, y - 1) - 2 * gray(x, y - 1) - gray(x + 1, y - 1);
      const value = Math.round(Math.min(255, Math.hypot(gx, gy)));
      out.fill(value, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return out;
}

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  let max = 0;
  for (let index = 0; index < a.length; index++) max = Math.max(max, Math.abs((a[index] ?? 0) - (b[index] ?? 0)));
  return max;
}

async function detect(frame: RgbFrame & { index: number }) {
  const node = new EdgeDetector<RgbFrame & { index: number }>({ name: 'edges' });
  await node.open();
  try {
    return { node, out: await node.process(frame) };
  } finally {
    node.close();
  }
}

describe('EdgeDetector', () => {
  it("is a GPU node by default, and keeps the caller's options", () => {
    expect(new EdgeDetector().deviceType).toBe('gpu');
    expect(new EdgeDetector({ deviceType: 'cpu', nbTasks: 2 })).toMatchObject({ deviceType: 'cpu', nbTasks: 2 });
  });

  it('matches a plain-JS Sobel on a 160×90 image (within 1 level), keeping size and extra fields', async () => {
    const frame = testFrame(160, 90);
    const { node, out } = await detect(frame);
    expect(node.tensorflow?.backend).toBe('wasm');
    // What the report and the live view show beside the task's device: `cpu (wasm)`.
    expect(node.deviceDetail).toBe('wasm');
    expect(out.index).toBe(7);
    expect([out.width, out.height, out.data.length]).toEqual([160, 90, 160 * 90 * 3]);
    expect(out.data).toBeInstanceOf(Uint8Array);
    const expected = referenceEdges(frame);
    expect(maxDifference(out.data, expected)).toBeLessThanOrEqual(1);
    // Not trivially zero: the rectangle's outline is strong.
    expect(out.data.reduce((count, value) => count + (value === 255 ? 1 : 0), 0)).toBeGreaterThan(300);
  });

  it('gives the same result on the cpu backend', async () => {
    const { tf } = await loadTensorflow();
    const frame = testFrame(64, 48);
    const onWasm = (await detect(frame)).out.data;
    await tf.setBackend('cpu');
    // The cpu backend's first use prints an advertisement for tfjs-node: keep it out of the log.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const onCpu = await detect(frame);
      expect(onCpu.node.tensorflow?.tf.getBackend()).toBe('cpu');
      expect(maxDifference(onCpu.out.data, onWasm)).toBeLessThanOrEqual(1);
    } finally {
      warn.mockRestore();
      await tf.setBackend('wasm');
    }
  });

  it('finds no edge in a flat image (the border repeats) and a full one on a vertical step', async () => {
    const flat = { index: 0, width: 8, height: 4, data: new Uint8Array(8 * 4 * 3).fill(90) };
    expect([...(await detect(flat)).out.data].every((value) => value === 0)).toBe(true);
    const step = { index: 0, width: 8, height: 4, data: new Uint8Array(8 * 4 * 3) };
    for (let y = 0; y < 4; y++) step.data.fill(255, (y * 8 + 4) * 3, (y * 8 + 8) * 3);
    const row = [...(await detect(step)).out.data.slice(0, 8 * 3)].filter((_, index) => index % 3 === 0);
    expect(row).toEqual([0, 0, 0, 255, 255, 0, 0, 0]);
  });

  it('does not leak tensors, and rejects a frame of the wrong size naming the node', async () => {
    const { tf } = await loadTensorflow();
    const node = new EdgeDetector({ name: 'edges' });
    await node.open();
    const before = tf.memory().numTensors;
    await node.process(testFrame(32, 16));
    expect(tf.memory().numTensors).toBe(before);
    await expect(node.process({ width: 4, height: 4, data: new Uint8Array(5) })).rejects.toThrow(
      'EdgeDetector "edges": a 4×4 RGB frame has 48 bytes, got 5',
    );
    node.close();
    expect(tf.memory().numTensors).toBe(before - 2);
  });
});
