import { isVfError } from '@vf/core';
import { describe, expect, it } from 'vitest';
import { BoxAnnotator } from '../annotate/boxAnnotator.js';
import type { Detection } from '../detect/box.js';
import { type FrameDetections, ObjectDetector } from '../detect/objectDetector.js';
import { CropTransformer, ResizeTransformer } from '../transform/transformers.js';
import type { VideoFrame } from './videoFrame.js';

/** A detector that records whether it was asked to look at a frame. */
class Counting extends ObjectDetector {
  calls = 0;

  detect(): Detection[] {
    this.calls += 1;
    return [];
  }
}

const frame = (overrides: Partial<VideoFrame> = {}): VideoFrame => ({
  index: 4,
  timestampMs: 160,
  width: 8,
  height: 6,
  channels: 3,
  data: new Uint8Array(8 * 6 * 3),
  ...overrides,
});
const none = (of: VideoFrame): FrameDetections => ({
  index: of.index,
  timestampMs: of.timestampMs,
  width: of.width,
  height: of.height,
  detections: [],
});

/** The code of what `call` threw (or rejected with), and its message. */
async function failure(call: () => unknown): Promise<{ code: unknown; message: string }> {
  try {
    await call();
  } catch (error) {
    return { code: isVfError(error) ? error.code : error, message: (error as Error).message };
  }
  return { code: undefined, message: '' };
}

describe('nodes that read frames refuse a malformed one with INVALID_FRAME naming the node and the frame', () => {
  const malformed: Array<[string, VideoFrame]> = [
    ['2 channels', frame({ channels: 2, data: new Uint8Array(8 * 6 * 2) })],
    ['short data', frame({ data: new Uint8Array(10) })],
    ['a fractional width', frame({ width: 7.5 })],
    ['data that is no Uint8Array', frame({ data: Array.from({ length: 8 * 6 * 3 }, () => 0) as never })],
  ];

  it.each(malformed)('%s: detector (detect() never called), annotator, crop, resize', async (_, bad) => {
    const detector = new Counting({ name: 'detector' });
    const nodes: Array<[string, () => unknown]> = [
      ['detector', () => detector.process(bad)],
      ['boxes', () => new BoxAnnotator({ name: 'boxes' }).process(bad, none(bad))],
      ['crop', () => new CropTransformer({ name: 'crop', box: { x: 0, y: 0, w: 4, h: 4 } }).process(bad)],
      ['resize', () => new ResizeTransformer({ name: 'resize', width: 4, height: 4 }).process(bad)],
    ];
    for (const [name, call] of nodes) {
      const { code, message } = await failure(call);
      expect(code, name).toBe('INVALID_FRAME');
      expect(message).toMatch(new RegExp(`^${name}: frame 4 `));
    }
    expect(detector.calls).toBe(0);
  });

  it('a well-formed frame goes through; annotations of another frame are ANNOTATION_MISALIGNED', async () => {
    const good = frame();
    expect((await new Counting().process(good)).index).toBe(4);
    expect(new ResizeTransformer({ width: 4, height: 2 }).process(good).data).toHaveLength(4 * 2 * 3);
    expect((await failure(() => new BoxAnnotator({ name: 'boxes' }).process(good, { ...none(good), index: 5 }))).code).toBe(
      'ANNOTATION_MISALIGNED',
    );
  });
});
