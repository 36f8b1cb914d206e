import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { ProcessorNode, type ProcessorOptions } from '@vf/core';
import { type LoadedTensorflow, loadTensorflow } from './tensorflow.js';

/** An RGB frame: `height` rows of `width` pixels, 3 bytes each (R, G, B). Other fields pass through. */
export interface RgbFrame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Options of {@link EdgeDetector}. */
export interface EdgeDetectorOptions extends ProcessorOptions {
  /** Called in each task once TensorFlow.js is loaded, e.g. to log which backend it runs on. */
  readonly onTensorflow?: (loaded: LoadedTensorflow) => void;
}

// Sobel kernels as one conv2d filter of shape [3, 3, 1, 2]: (d/dx, d/dy) pairs, row by row.
// biome-ignore format: one kernel row per line
const SOBEL = [
  -1, -1,   0, -2,   1, -1,
  -2,  0,   0,  0,   2,  0,
  -1,  1,   0,  2,   1,  1,
];
// One pixel around each image, so that the 3×3 convolution keeps the frame size.
const BORDER: [number, number][] = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];
// ITU-R BT.601 luma, as most video tools compute gray.
const LUMA = [0.299, 0.587, 0.114];

/**
 * An example GPU node: Sobel edge magnitude of RGB frames with a TensorFlow.js convolution, on
 * whatever backend {@link loadTensorflow} picks in its task (CUDA through tfjs-node-gpu on a GPU task
 * that has it, else native CPU, else wasm). Outputs a frame of the same size whose three channels
 * hold the edge magnitude (0–255); borders repeat the edge pixel, so a flat image has no edges.
 * `deviceType` defaults to `'gpu'`; on a task placed on the CPU it runs just the same.
 *
 * @example
 * ```ts
 * const edges = new EdgeDetector({ nbTasks: 2 }).from(frames);
 * ```
 */
export class EdgeDetector<TFrame extends RgbFrame = RgbFrame> extends ProcessorNode<[TFrame], TFrame> {
  readonly #onTensorflow: ((loaded: LoadedTensorflow) => void) | undefined;
  #tensorflow: LoadedTensorflow | undefined;
  #kernel: Tensor4D | undefined;
  #luma: Tensor2D | undefined;

  constructor(options: EdgeDetectorOptions = {}) {
    const { onTensorflow, ...processorOptions } = options;
    super({ deviceType: 'gpu', ...processorOptions });
    this.#onTensorflow = onTensorflow;
  }

  /** What this task loaded (undefined before `open()`). */
  get tensorflow(): LoadedTensorflow | undefined {
    return this.#tensorflow;
  }

  override async open(): Promise<void> {
    this.#tensorflow = await loadTensorflow();
    this.deviceDetail = this.#tensorflow.backend; // the report says what ran: `gpu:0 (wasm)` without CUDA
    const { tf } = this.#tensorflow;
    this.#kernel = tf.tensor4d(SOBEL, [3, 3, 1, 2]);
    this.#luma = tf.tensor2d(LUMA, [3, 1]);
    this.#onTensorflow?.(this.#tensorflow);
  }

  async process(frame: TFrame): Promise<TFrame> {
    const { width, height, data } = frame;
    if (this.#tensorflow === undefined || this.#kernel === undefined || this.#luma === undefined) {
      throw new Error(`EdgeDetector "${this.name}": process() before open()`);
    }
    if (data.length !== width * height * 3) {
      throw new RangeError(
        `EdgeDetector "${this.name}": a ${width}×${height} RGB frame has ${width * height * 3} bytes, got ${data.length}`,
      );
    }
    const { tf } = this.#tensorflow;
    const kernel = this.#kernel;
    const luma = this.#luma;
    // On the device: gray, the two gradients, their magnitude. Clipping, rounding and the copy into
    // three channels are cheaper as one pass in JS than as tensor ops (wasm's tile is very slow).
    const magnitude = tf.tidy(() => {
      const gray = tf
        .tensor2d(Float32Array.from(data), [height * width, 3])
        .matMul(luma)
        .reshape<Tensor4D>([1, height, width, 1]);
      const gradients = tf.conv2d(tf.mirrorPad(gray, BORDER, 'symmetric'), kernel, 1, 'valid');
      return gradients.square().sum(-1).sqrt();
    });
    let values: Float32Array;
    try {
      values = (await magnitude.data()) as Float32Array;
    } finally {
      magnitude.dispose();
    }
    const edges = new Uint8Array(width * height * 3);
    for (let pixel = 0; pixel < values.length; pixel++) {
      const value = Math.min(255, Math.round(values[pixel] as number));
      edges[3 * pixel] = value;
      edges[3 * pixel + 1] = value;
      edges[3 * pixel + 2] = value;
    }
    return { ...frame, data: edges };
  }

  override close(): void {
    this.#kernel?.dispose();
    this.#luma?.dispose();
    this.#kernel = undefined;
    this.#luma = undefined;
  }
}
