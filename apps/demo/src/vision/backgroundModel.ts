import type { Tensorflow } from '@vf/gpu';
import { VideoDecoder } from '@vf/vision';

type Tensor3D = ReturnType<Tensorflow['tensor3d']>;

/** Options of {@link estimateBackground}. */
export interface BackgroundOptions {
  /** Frames sampled for the median. Default 15. */
  readonly samples?: number;
  /** Frames of the video the samples are spread over, from the start. Default 250 (10 s at 25 fps). */
  readonly window?: number;
}

/**
 * The static background of a video: the per-pixel median of `samples` frames spread evenly over its
 * first `window` frames, as a `[height, width, 3]` float32 tensor. A moving object covers any one
 * pixel in fewer than half of the samples, so the median sees through it; the same file always gives
 * the same model, which is what lets every replica of the detector build its own.
 */
export async function estimateBackground(
  tf: Tensorflow,
  file: string,
  video: { readonly width: number; readonly height: number; readonly frames: number },
  options: BackgroundOptions = {},
): Promise<Tensor3D> {
  const samples = options.samples ?? 15;
  const window = Math.min(options.window ?? 250, video.frames > 0 ? video.frames : Number.POSITIVE_INFINITY);
  const step = Number.isFinite(window) ? Math.max(1, Math.floor(window / samples)) : 1;
  const frames: Uint8Array[] = [];
  const decoder = new VideoDecoder(file, video, { step, maxFrames: samples });
  for await (const frame of decoder.frames()) frames.push(frame.data);
  const { width, height } = video;
  return tf.tidy(() => {
    const stacked = tf.stack(frames.map((data) => tf.tensor1d(data, 'float32'))); // [k, h·w·3]
    const k = frames.length;
    // The median is the ⌊k/2⌋+1-th largest value of each column.
    const { values } = tf.topk(stacked.transpose(), Math.floor(k / 2) + 1, true);
    return values.slice([0, Math.floor(k / 2)], [-1, 1]).reshape<Tensor3D>([height, width, 3]);
  });
}
