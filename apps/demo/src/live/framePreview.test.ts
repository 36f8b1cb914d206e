import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FramePreview } from './framePreview.js';

function frame(width: number, height: number, value: number) {
  return { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(value) };
}

describe('FramePreview', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vf-preview-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the frame as a JPEG, skipping frames that come faster than maxPerSecond, and leaves no partial file', async () => {
    const path = join(dir, 'preview.jpg');
    const preview = new FramePreview({ path, maxPerSecond: 0.01 });
    preview.consume(frame(64, 48, 200));
    preview.consume(frame(64, 48, 10)); // within the same 100 s: skipped
    await preview.close();
    expect(preview.written).toBe(1);
    const jpeg = readFileSync(path);
    expect([jpeg[0], jpeg[1]]).toEqual([0xff, 0xd8]); // JPEG start-of-image
    expect(existsSync(`${path}.partial.jpg`)).toBe(false);
  }, 30_000);

  it('ignores frames it cannot encode (an unknown channel count) without failing', async () => {
    const path = join(dir, 'odd.jpg');
    const preview = new FramePreview({ path });
    preview.consume({ width: 4, height: 4, channels: 2, data: new Uint8Array(32) });
    await preview.close();
    expect(preview.written).toBe(0);
    expect(existsSync(path)).toBe(false);
  });
});
