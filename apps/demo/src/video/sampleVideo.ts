import { rgbFrameBytes, VideoEncoder } from '@vf/vision';

/** Options of {@link generateSampleVideo} and {@link sceneAt}. */
export interface SampleVideoOptions {
  /** Default 640. */
  readonly width?: number;
  /** Default 360. */
  readonly height?: number;
  /** Default 25. */
  readonly fps?: number;
  /** Length in seconds. Default 5. */
  readonly durationS?: number;
}

/** One shape of the sample scene in one frame: its bounding box and how it is filled. */
export interface SceneShape {
  readonly id: number;
  readonly kind: 'square' | 'rectangle' | 'disc';
  readonly color: readonly [number, number, number];
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** The number of shapes that move through the sample video. */
export const SAMPLE_SHAPES = 3;

/** Background colour at row `y`: a dark vertical gradient, static, so a background model learns it. */
function backgroundAt(y: number, height: number): [number, number, number] {
  const t = y / Math.max(1, height - 1);
  return [Math.round(28 + 16 * t), Math.round(34 + 20 * t), Math.round(52 + 26 * t)];
}

/** The static background of the sample scene, drawn once per size. */
export function sampleBackground(width: number, height: number): Uint8Array {
  const key = `${width}x${height}`;
  let background = backgrounds.get(key);
  if (background === undefined) {
    background = new Uint8Array(rgbFrameBytes(width, height));
    for (let y = 0; y < height; y++) {
      const row = backgroundAt(y, height);
      for (let x = 0; x < width; x++) background.set(row, 3 * (y * width + x));
    }
    backgrounds.set(key, background);
  }
  return background;
}
const backgrounds = new Map<string, Uint8Array>();

function withDefaults(options: SampleVideoOptions): Required<SampleVideoOptions> {
  return { width: options.width ?? 640, height: options.height ?? 360, fps: options.fps ?? 25, durationS: options.durationS ?? 5 };
}

/**
 * Where the shapes are in frame `index`: the ground truth the sample video is drawn from (tests check
 * the annotated output against it). Three shapes cross the frame in their own horizontal bands, so
 * they never touch: a red square left to right, a green rectangle right to left, a yellow disc on a
 * wave. Each stays fully inside the frame for the whole video, whatever its length.
 */
export function sceneAt(index: number, options: SampleVideoOptions = {}): SceneShape[] {
  const { width: W, height: H, fps, durationS } = withDefaults(options);
  const frames = Math.max(2, Math.round(durationS * fps));
  const p = Math.min(1, index / (frames - 1)); // 0 → 1 over the video
  const t = index / fps;
  const s = Math.min(W / 640, H / 360); // sizes scale with the frame
  const square = Math.round(56 * s);
  const rect = { w: Math.round(92 * s), h: Math.round(48 * s) };
  const disc = Math.round(60 * s);
  const across = (size: number, from: number, to: number) => Math.round(from * (W - size) + (to - from) * (W - size) * p);
  return [
    {
      id: 1,
      kind: 'square',
      color: [225, 45, 45],
      x: across(square, 0.05, 0.9),
      y: Math.round(0.1 * H + 0.04 * H * Math.sin(2 * Math.PI * 0.5 * t)),
      w: square,
      h: square,
    },
    {
      id: 2,
      kind: 'rectangle',
      color: [40, 200, 90],
      x: across(rect.w, 0.92, 0.08),
      y: Math.round(0.43 * H),
      w: rect.w,
      h: rect.h,
    },
    {
      id: 3,
      kind: 'disc',
      color: [235, 205, 40],
      x: across(disc, 0.2, 0.75),
      y: Math.round(0.7 * H + 0.06 * H * Math.sin(2 * Math.PI * 0.7 * t)),
      w: disc,
      h: disc,
    },
  ];
}

/** Draws frame `index` of the sample scene as RGB24. */
export function renderScene(index: number, options: SampleVideoOptions = {}): Uint8Array {
  const { width, height } = withDefaults(options);
  const data = sampleBackground(width, height).slice();
  for (const shape of sceneAt(index, options)) {
    const radius = shape.w / 2;
    for (let y = shape.y; y < shape.y + shape.h; y++) {
      for (let x = shape.x; x < shape.x + shape.w; x++) {
        if (shape.kind === 'disc' && (x + 0.5 - shape.x - radius) ** 2 + (y + 0.5 - shape.y - radius) ** 2 > radius ** 2) continue;
        const at = 3 * (y * width + x);
        data.set(shape.color, at);
      }
    }
  }
  return data;
}

/**
 * Writes the sample video: the {@link sceneAt} shapes moving over a static background, drawn in JS
 * and encoded to H.264 MP4 by ffmpeg. Drawing the frames ourselves (rather than with ffmpeg's lavfi
 * filters) gives the tests an exact ground truth and works with any ffmpeg build.
 */
export async function generateSampleVideo(file: string, options: SampleVideoOptions = {}): Promise<{ frames: number }> {
  const settings = withDefaults(options);
  const frames = Math.max(2, Math.round(settings.durationS * settings.fps));
  const encoder = VideoEncoder.start(file, { width: settings.width, height: settings.height, fps: settings.fps, crf: 18 });
  try {
    for (let index = 0; index < frames; index++) await encoder.write(renderScene(index, settings));
    await encoder.finish();
  } catch (error) {
    await encoder.abort();
    throw error;
  }
  return { frames };
}
