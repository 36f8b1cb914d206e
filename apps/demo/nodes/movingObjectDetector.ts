import { type LoadedTensorflow, loadTensorflow, type Tensorflow } from '@vf/gpu';
import { type Detection, ObjectDetector, type ObjectDetectorOptions, probeVideo, type VideoFrame } from '@vf/vision';
import { estimateBackground } from '../src/vision/backgroundModel.js';
import { connectedComponents } from '../src/vision/connectedComponents.js';

type Tensor3D = ReturnType<Tensorflow['tensor3d']>;
type Tensor4D = ReturnType<Tensorflow['tensor4d']>;

/** Options of {@link MovingObjectDetector}. */
export interface MovingObjectDetectorOptions extends ObjectDetectorOptions {
  /** The video whose static background the detector learns (the one the frames come from). */
  readonly background: string;
  /** A pixel is foreground when one of its channels differs from the background by more than this (0–255). Default 40. */
  readonly threshold?: number;
  /** Smallest object, in foreground pixels. Default 120. */
  readonly minArea?: number;
  /** Called in each task once TensorFlow.js is loaded, e.g. to log its backend. */
  readonly onTensorflow?: (loaded: LoadedTensorflow) => void;
}

/**
 * Finds moving objects by background subtraction on TensorFlow.js tensors (on the GPU when
 * {@link loadTensorflow} finds CUDA, else native CPU, else wasm): the absolute difference between
 * the frame and a static background model (the per-pixel median of frames spread over the video),
 * the largest channel difference above `threshold`, a morphological opening (3×3 erosion then
 * dilation, as max-pools) to remove compression noise, then connected components in JS for the
 * boxes, labelled `object` (a mask has no classes). The demo's alternative to `CocoDetector`
 * (`detector: 'motion'`): it needs a static camera.
 *
 * Stateless per frame: every replica builds the same background model in `open()` from the video
 * itself, so `nbTasks > 1` (each replica seeing every n-th frame) gives exactly the same detections
 * as one task, and so does a realtime run that drops frames. A running-average background would
 * drift apart between replicas that each see only some of the frames.
 */
export class MovingObjectDetector extends ObjectDetector {
  readonly #options: Pick<MovingObjectDetectorOptions, 'background' | 'threshold' | 'minArea' | 'onTensorflow'>;
  #tensorflow: LoadedTensorflow | undefined;
  #background: Tensor3D | undefined;

  constructor(options: MovingObjectDetectorOptions) {
    const { background, threshold, minArea, onTensorflow, ...detectorOptions } = options;
    super({ deviceType: 'gpu', minScore: 0, ...detectorOptions });
    this.#options = { background, threshold, minArea, onTensorflow };
  }

  override get backend(): string | undefined {
    const loaded = this.#tensorflow;
    return loaded === undefined ? undefined : `tensorflow.js ${loaded.backend} (${loaded.package})`;
  }

  override async open(): Promise<void> {
    this.#tensorflow = await loadTensorflow();
    this.deviceDetail = this.#tensorflow.backend; // the report and live view say what ran, e.g. `gpu:0 (wasm)`
    this.#options.onTensorflow?.(this.#tensorflow);
    const video = await probeVideo(this.#options.background);
    this.#background = await estimateBackground(this.#tensorflow.tf, this.#options.background, video);
  }

  async detect(frame: VideoFrame): Promise<Detection[]> {
    const tf = this.#tensorflow?.tf;
    const background = this.#background;
    if (tf === undefined || background === undefined) throw new Error(`${this.name}: process() before open()`);
    const { width, height, data } = frame;
    const [bgHeight, bgWidth] = background.shape;
    if (width !== bgWidth || height !== bgHeight) {
      throw new RangeError(`${this.name}: frame ${frame.index} is ${width}×${height}, the background model ${bgWidth}×${bgHeight}`);
    }
    const threshold = this.#options.threshold ?? 40;
    const mask = tf.tidy(() => {
      // Float32Array.from is 5× faster than letting tf convert the bytes itself.
      const pixels = tf.tensor3d(Float32Array.from(data), [height, width, 3]);
      // Work on the background mask: eroding the foreground is dilating its complement, so the
      // opening (erode, then dilate) takes two max-pools and no negation.
      const still = pixels.sub(background).abs().max(2).lessEqual(threshold).cast('float32').reshape<Tensor4D>([1, height, width, 1]);
      const eroded = tf.sub(1, tf.maxPool(still, 3, 1, 'same')) as Tensor4D;
      return tf.maxPool(eroded, 3, 1, 'same');
    });
    let bits: Float32Array;
    try {
      bits = (await mask.data()) as Float32Array;
    } finally {
      mask.dispose();
    }
    return connectedComponents(bits, width, height, this.#options.minArea ?? 120);
  }

  override close(): void {
    this.#background?.dispose();
    this.#background = undefined;
  }
}
