import { isVfError } from '@vf/core';
import { describe, expect, it } from 'vitest';
import {
  BoxAnnotator,
  CameraSource,
  CocoDetector,
  CropTransformer,
  ImageFolderReader,
  ResizeTransformer,
  SortTracker,
  SortTrackerNode,
  TrackAnnotator,
  TrackCounter,
  VideoEncoder,
  VideoFileReader,
  VideoFileWriter,
  VideoStreamReader,
} from './index.js';
import { MAX_DELAY_MS } from './options.js';

/** The construction's error: a FlowValidationError INVALID_OPTION naming the node and the option. */
function invalid(construct: () => unknown, node: string, option: string): string {
  let error: unknown;
  try {
    construct();
  } catch (thrown) {
    error = thrown;
  }
  expect(isVfError(error), `${option}: ${String(error)}`).toBe(true);
  expect(error).toMatchObject({ name: 'FlowValidationError', code: 'INVALID_OPTION' });
  const message = (error as Error).message;
  expect(message).toContain(node);
  expect(message).toContain(option);
  return message;
}

describe('invalid node options fail at construction with INVALID_OPTION naming the option', () => {
  it('VideoFileReader maxFrames must be a positive integer; CameraSource loops too', () => {
    for (const maxFrames of [0, -3, 2.5, Number.NaN]) {
      expect(invalid(() => new VideoFileReader({ name: 'video', path: 'in.mp4', maxFrames }), 'video', 'maxFrames')).toMatch(
        /positive integer/,
      );
    }
    invalid(() => new VideoFileReader({ name: 'video', path: '' }), 'video', 'path');
    invalid(() => new CameraSource({ name: 'camera', path: 'in.mp4', fps: 10, loops: 0 }), 'camera', 'loops');
    invalid(() => new CameraSource({ name: 'camera', path: 'in.mp4', fps: 10, loops: 2, maxFrames: 0 }), 'camera', 'maxFrames');
    expect(new VideoFileReader({ name: 'video', path: 'in.mp4', maxFrames: 1 }).path).toBe('in.mp4');
  });

  it('VideoFileWriter fps must be a positive number, crf 0-51', () => {
    for (const fps of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(invalid(() => new VideoFileWriter({ name: 'writer', path: 'out.mp4', fps }), 'writer', 'fps')).toMatch(/positive/);
    }
    invalid(() => new VideoFileWriter({ name: 'writer', path: 'out.mp4', fps: 10, crf: 60 }), 'writer', 'crf');
    invalid(() => new VideoFileWriter({ name: 'writer', path: 'out.mp4', fps: 10, finishTimeoutMs: 0 }), 'writer', 'finishTimeoutMs');
    expect(new VideoFileWriter({ name: 'writer', path: 'out.mp4', fps: 2.5 }).path).toBe('out.mp4');
  });

  it('VideoFileWriter finishTimeoutMs must fit a Node timer (a longer one fires at once: ffmpeg killed, the video lost)', () => {
    for (const finishTimeoutMs of [3e9, 2 ** 31, Number.POSITIVE_INFINITY]) {
      const message = invalid(
        () => new VideoFileWriter({ name: 'writer', path: 'out.mp4', fps: 10, finishTimeoutMs }),
        'writer',
        'finishTimeoutMs',
      );
      expect(message).toContain(String(MAX_DELAY_MS));
    }
    expect(new VideoFileWriter({ name: 'writer', path: 'out.mp4', fps: 10, finishTimeoutMs: MAX_DELAY_MS }).path).toBe('out.mp4');
    // The encoder refuses it too, before it starts ffmpeg.
    invalid(() => VideoEncoder.start('out.mp4', { width: 4, height: 4, fps: 10, finishTimeoutMs: 3e9 }), 'VideoEncoder', 'finishTimeoutMs');
  });

  it('CocoDetector labels must be COCO labels, minScore and nmsIouThreshold within 0-1', () => {
    expect(invalid(() => new CocoDetector({ name: 'detector', labels: ['person', 'persn'] }), 'detector', 'labels')).toContain('"persn"');
    invalid(() => new CocoDetector({ name: 'detector', labels: 'person' as never }), 'detector', 'labels');
    for (const minScore of [7, -1, Number.NaN]) invalid(() => new CocoDetector({ name: 'detector', minScore }), 'detector', 'minScore');
    invalid(() => new CocoDetector({ name: 'detector', nmsIouThreshold: 1.5 }), 'detector', 'nmsIouThreshold');
    expect(new CocoDetector({ name: 'detector', labels: ['person', 'car'], minScore: 0 }).minScore).toBe(0);
  });

  it('VideoStreamReader and ImageFolderReader check theirs (a retry delay past a Node timer would fire at once)', () => {
    invalid(() => new VideoStreamReader({ name: 'stream', source: '' }), 'stream', 'source');
    invalid(() => new VideoStreamReader({ name: 'stream', source: 'rtsp://cam/1', width: 0 }), 'stream', 'width');
    invalid(() => new VideoStreamReader({ name: 'stream', source: 'rtsp://cam/1', maxFrames: 1.5 }), 'stream', 'maxFrames');
    invalid(() => new VideoStreamReader({ name: 'stream', source: 'rtsp://cam/1', maxRetries: -1 }), 'stream', 'maxRetries');
    invalid(() => new VideoStreamReader({ name: 'stream', source: 'rtsp://cam/1', retryDelayMs: 2 ** 31 }), 'stream', 'retryDelayMs');
    invalid(() => new VideoStreamReader({ name: 'stream', source: 'rtsp://cam/1', stallTimeoutMs: 0 }), 'stream', 'stallTimeoutMs');
    invalid(() => new ImageFolderReader({ name: 'images', path: 'frames', fps: 0 }), 'images', 'fps');
    invalid(() => new ImageFolderReader({ name: 'images', path: 'frames', extensions: ['png'] }), 'images', 'extensions');
    invalid(() => new ImageFolderReader({ name: 'images', path: '' }), 'images', 'path');
    expect(new VideoStreamReader({ name: 'stream', source: 'rtsp://cam/1', maxRetries: 0 }).source).toBe('rtsp://cam/1');
    expect(new ImageFolderReader({ name: 'images', path: 'frames', extensions: ['.png'] }).path).toBe('frames');
  });

  it('the tracker and the annotators check theirs', () => {
    invalid(() => new SortTrackerNode({ name: 'tracker', maxAge: -1 }), 'tracker', 'maxAge');
    invalid(() => new SortTrackerNode({ name: 'tracker', minHits: 1.5 }), 'tracker', 'minHits');
    invalid(() => new SortTrackerNode({ name: 'tracker', iouThreshold: 2 }), 'tracker', 'iouThreshold');
    invalid(() => new SortTracker({ matchLabels: 'yes' as never }), 'SortTracker', 'matchLabels');
    invalid(() => new BoxAnnotator({ name: 'boxes', showScore: 'no' as never }), 'boxes', 'showScore');
    invalid(() => new TrackAnnotator({ name: 'tracks', showLabel: 1 as never }), 'tracks', 'showLabel');
  });

  it('no options, or null, where a node needs them: INVALID_OPTION naming the class (it was a bare TypeError from the destructuring)', () => {
    const cases: Array<[string, () => unknown]> = [
      ['VideoFileReader', () => new VideoFileReader(undefined as never)],
      ['CameraSource', () => new CameraSource(null as never)],
      ['VideoStreamReader', () => new VideoStreamReader(undefined as never)],
      ['VideoFileWriter', () => new VideoFileWriter(undefined as never)],
      ['CropTransformer', () => new CropTransformer(undefined as never)],
      ['ResizeTransformer', () => new ResizeTransformer(null as never)],
      ['TrackCounter', () => new TrackCounter(null as never)],
      ['CocoDetector', () => new CocoDetector(null as never)],
      ['SortTracker', () => new SortTracker(null as never)],
      ['SortTrackerNode', () => new SortTrackerNode(null as never)],
      ['BoxAnnotator', () => new BoxAnnotator(null as never)],
    ];
    for (const [owner, construct] of cases) invalid(construct, owner, 'options');
    // The ones whose options are all optional still take none.
    expect(new TrackCounter().path).toBeUndefined();
    expect(new SortTrackerNode().nbTasks).toBe(1);
  });

  it('the rest of the options checked at construction: stream inputArgs and onReconnect, crop box, counter path, detector modelDir, onTensorflow and labels, camera fps, huge maxFrames', () => {
    invalid(() => new VideoStreamReader({ name: 'cam', source: '/dev/video0', inputArgs: '-f v4l2' as never }), 'cam', 'inputArgs');
    invalid(() => new VideoStreamReader({ name: 'cam', source: '/dev/video0', onReconnect: 5 as never }), 'cam', 'onReconnect');
    for (const box of [{ x: Number.NaN, y: 0, w: 10, h: 10 }, { x: 0, y: 0, w: 0, h: 10 }, { x: 0, y: 0, w: 10 }, 'box']) {
      invalid(() => new CropTransformer({ name: 'crop', box: box as never }), 'crop', 'box');
    }
    expect(new CropTransformer({ name: 'crop', box: { x: -5, y: 0, w: 10, h: 10 } }).box.x).toBe(-5);
    invalid(() => new TrackCounter({ name: 'counter', path: '' }), 'counter', 'path');
    invalid(() => new TrackCounter({ name: 'counter', path: 5 as never }), 'counter', 'path');
    invalid(() => new CocoDetector({ name: 'detector', modelDir: 5 as never }), 'detector', 'modelDir');
    invalid(() => new CocoDetector({ name: 'detector', onTensorflow: 5 as never }), 'detector', 'onTensorflow');
    expect(invalid(() => new CocoDetector({ name: 'detector', labels: [] }), 'detector', 'labels')).toMatch(/non-empty/);
    invalid(() => new CameraSource({ name: 'camera', path: 'in.mp4' } as never), 'camera', 'fps');
    invalid(() => new VideoFileReader({ name: 'video', path: 'in.mp4', maxFrames: 1e300 }), 'video', 'maxFrames');
  });
});
