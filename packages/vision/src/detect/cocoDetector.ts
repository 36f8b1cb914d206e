import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FlowValidationError, VfError } from '@vf/core';
import { type LoadedTensorflow, loadTensorflow, type Tensorflow } from '@vf/gpu';
import { aFunction, checkOption, nonEmptyString, numberIn, optionsObject } from '../options.js';
import type { VideoFrame } from '../video/videoFrame.js';
import { type Detection, iou } from './box.js';
import { COCO_LABELS } from './cocoLabels.js';
import { ObjectDetector, type ObjectDetectorOptions } from './objectDetector.js';

/** Error code of {@link ModelError}. */
export const MODEL_UNAVAILABLE = 'MODEL_UNAVAILABLE';

/** A detector's model files cannot be found or loaded. The message names the files and the fix. */
export class ModelError extends VfError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(MODEL_UNAVAILABLE, message, options);
    this.name = 'ModelError';
  }
}

/** Options of {@link CocoDetector}. */
export interface CocoDetectorOptions extends ObjectDetectorOptions {
  /**
   * Detections scoring below this are dropped. Default 0.35: on hand-annotated frames of vtest.avi
   * it keeps 85% of the persons with under one stray box per frame (0.3: 87% and 1.4; 0.4: 69% and 0.1).
   */
  readonly minScore?: number;
  /** Two boxes of one label overlapping more than this (IoU) are one object: the weaker goes. Default 0.5. */
  readonly nmsIouThreshold?: number;
  /**
   * Directory holding `centernet.json` and `centernet.bin`. Default: the `models/` directory of the
   * installed `@vladmandic/human` package (offline: the weights ship inside the npm package).
   */
  readonly modelDir?: string;
  /** Called in each task once TensorFlow.js is loaded, e.g. to log its backend. */
  readonly onTensorflow?: (loaded: LoadedTensorflow) => void;
}

type GraphModel = Awaited<ReturnType<Tensorflow['loadGraphModel']>>;
type Tensor = ReturnType<Tensorflow['tensor']>;

/** Side of the square image the CenterNet model takes (its signature: `tower_0/images` [1, 512, 512, 3]). */
export const CENTERNET_INPUT_SIZE = 512;
const OUTPUT_NODE = 'tower_0/detections';

/**
 * A pretrained COCO object detector (80 classes, {@link COCO_LABELS}): the MobileNetV3 CenterNet
 * that `@vladmandic/human` ships as a TensorFlow.js graph model (`models/centernet.{json,bin}`,
 * 4 MB), loaded from the installed npm package, offline.
 *
 * Pre- and post-processing (checked against the model's signature and on real footage): the RGB
 * frame, as float pixel values 0–255 (no normalisation: the model's first convolution takes them
 * raw), resized bilinearly to 512×512 whatever its aspect; the output `tower_0/detections` is
 * [1, 100, 6] rows of `x1, y1, x2, y2` (in the 512×512 input's pixels), score, and class index
 * (0-based into the COCO list). Boxes are scaled back to the frame, scored below `minScore` dropped,
 * and overlapping boxes of one label merged by non-maximum suppression (the model's own output
 * repeats an object under several classes and boxes).
 *
 * Runs on the best TensorFlow.js backend `loadTensorflow()` (`@vf/gpu`) finds in the task:
 * tfjs-node-gpu on a GPU task, else tfjs-node, else wasm, else cpu; {@link CocoDetector.backend}
 * and every {@link FrameDetections}' `backend` say which ran. `deviceType` defaults to `'gpu'`
 * (falling back to the CPU when no GPU is free); `nbTasks` replicas each load the model in `open()`.
 *
 * @example
 * ```ts
 * const detector = new CocoDetector({ name: 'detector', nbTasks: 2, labels: ['person'] }).from(video);
 * ```
 */
export class CocoDetector extends ObjectDetector {
  readonly #nmsIouThreshold: number;
  readonly #modelDir: string | undefined;
  readonly #onTensorflow: ((loaded: LoadedTensorflow) => void) | undefined;
  #tensorflow: LoadedTensorflow | undefined;
  #model: GraphModel | undefined;

  constructor(options: CocoDetectorOptions = {}) {
    const { nmsIouThreshold, modelDir, onTensorflow, ...detectorOptions } = optionsObject(new.target.name, options, '{ minScore?, ... }');
    super({ deviceType: 'gpu', minScore: 0.35, ...detectorOptions });
    checkOption(this.name, options, 'nmsIouThreshold', numberIn(0, 1));
    checkOption(this.name, options, 'modelDir', nonEmptyString);
    checkOption(this.name, options, 'onTensorflow', aFunction);
    // A misspelt label ('persn') would silently filter out everything.
    const unknown = [...(this.labels ?? [])].filter((label) => !COCO_LABELS.includes(label));
    if (unknown.length > 0) {
      throw new FlowValidationError(
        'INVALID_OPTION',
        `${this.name}: labels must be COCO labels (COCO_LABELS, e.g. 'person', 'car'); not COCO labels: ${unknown.map((label) => JSON.stringify(label)).join(', ')}`,
        { details: { node: this.name, option: 'labels', value: unknown.join(', ') } },
      );
    }
    this.#nmsIouThreshold = nmsIouThreshold ?? 0.5;
    this.#modelDir = modelDir;
    this.#onTensorflow = onTensorflow;
  }

  /**
   * `'tensorflow.js <backend> (<package>)'` once `open()` has loaded TensorFlow.js in this task: the
   * backend active now (`tf.getBackend()`), so it stays true if the process switches backends.
   */
  override get backend(): string | undefined {
    const loaded = this.#tensorflow;
    return loaded === undefined ? undefined : `tensorflow.js ${loaded.tf.getBackend()} (${loaded.package})`;
  }

  /** What `loadTensorflow()` chose in this task (after `open()`). */
  get tensorflow(): LoadedTensorflow | undefined {
    return this.#tensorflow;
  }

  override async open(): Promise<void> {
    this.#tensorflow = await loadTensorflow();
    this.deviceDetail = this.#tensorflow.backend; // the report and live view say what ran, e.g. `gpu:0 (wasm)`
    this.#onTensorflow?.(this.#tensorflow);
    const { tf } = this.#tensorflow;
    const dir = this.#modelDir ?? centernetModelDir();
    const files = { json: join(dir, 'centernet.json'), bin: join(dir, 'centernet.bin') };
    let artifacts: Parameters<Tensorflow['io']['fromMemory']>[0];
    try {
      const json = JSON.parse(readFileSync(files.json, 'utf8')) as {
        modelTopology: object;
        weightsManifest: Array<{ weights: Array<{ name: string; shape: number[]; dtype: string }> }>;
      };
      const bin = readFileSync(files.bin);
      artifacts = {
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((group) => group.weights) as never,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
        format: 'graph-model',
      };
    } catch (error) {
      throw new ModelError(`${this.name}: cannot read the CenterNet model ${files.json} / ${files.bin}: ${(error as Error).message}`, {
        cause: error,
        details: { node: this.name, files },
      });
    }
    // tf.io.fromMemory: the files are read above, so no file:// handler (tfjs-node only) is needed.
    this.#model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  }

  async detect(frame: VideoFrame): Promise<Detection[]> {
    const tf = this.#tensorflow?.tf;
    const model = this.#model;
    if (tf === undefined || model === undefined)
      throw new VfError('NOT_OPEN', `${this.name}: process() before open()`, { details: { node: this.name } });
    const { width, height, channels, data } = frame;
    const output = tf.tidy(() => {
      let pixels = tf.tensor3d(data, [height, width, channels], 'int32');
      if (channels === 4) pixels = pixels.slice([0, 0, 0], [height, width, 3]);
      else if (channels === 1) pixels = pixels.tile([1, 1, 3]);
      else if (channels !== 3) throw new RangeError(`${this.name}: frame ${frame.index} has ${channels} channels (1, 3 or 4)`);
      const input = tf.image.resizeBilinear(pixels.toFloat(), [CENTERNET_INPUT_SIZE, CENTERNET_INPUT_SIZE]).expandDims(0);
      return model.execute(input, OUTPUT_NODE) as Tensor;
    });
    let rows: Float32Array;
    try {
      rows = (await output.data()) as Float32Array;
    } finally {
      output.dispose();
    }
    return decodeCenternet(rows, { width, height, minScore: this.minScore, nmsIouThreshold: this.#nmsIouThreshold });
  }

  override close(): void {
    this.#model?.dispose();
    this.#model = undefined;
  }
}

/**
 * Turns CenterNet's output rows (`x1, y1, x2, y2, score, class` in the 512×512 input's pixels) into
 * {@link Detection}s in a `width × height` frame: scaled, clipped to the frame, filtered by
 * `minScore`, and reduced by per-label non-maximum suppression (best score first).
 */
export function decodeCenternet(
  rows: ArrayLike<number>,
  options: { width: number; height: number; minScore: number; nmsIouThreshold: number },
): Detection[] {
  const { width, height } = options;
  const sx = width / CENTERNET_INPUT_SIZE;
  const sy = height / CENTERNET_INPUT_SIZE;
  const candidates: Detection[] = [];
  for (let at = 0; at + 6 <= rows.length; at += 6) {
    const score = rows[at + 4] as number;
    const classId = Math.round(rows[at + 5] as number);
    const label = COCO_LABELS[classId];
    if (!(score >= options.minScore) || label === undefined) continue;
    const x1 = clamp((rows[at] as number) * sx, width);
    const y1 = clamp((rows[at + 1] as number) * sy, height);
    const x2 = clamp((rows[at + 2] as number) * sx, width);
    const y2 = clamp((rows[at + 3] as number) * sy, height);
    if (x2 <= x1 || y2 <= y1) continue;
    candidates.push({ x: x1, y: y1, w: x2 - x1, h: y2 - y1, label, classId, score });
  }
  candidates.sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const candidate of candidates) {
    if (kept.some((other) => other.label === candidate.label && iou(other, candidate) > options.nmsIouThreshold)) continue;
    kept.push(candidate);
  }
  return kept;
}

function clamp(value: number, max: number): number {
  return Math.min(max, Math.max(0, value));
}

const require = createRequire(import.meta.url);

/** The `models/` directory of the installed `@vladmandic/human` package, or a {@link ModelError} saying how to get it. */
export function centernetModelDir(): string {
  let entry: string;
  try {
    entry = require.resolve('@vladmandic/human');
  } catch (error) {
    throw new ModelError('the CenterNet weights come from @vladmandic/human, which is not installed: add @vladmandic/human@3.3.6', {
      cause: error,
    });
  }
  // Its exports map hides package.json: walk up from its entry point to the package root.
  for (let dir = dirname(entry); dirname(dir) !== dir; dir = dirname(dir)) {
    const models = join(dir, 'models');
    if (existsSync(join(dir, 'package.json')) && existsSync(join(models, 'centernet.json'))) return models;
  }
  throw new ModelError(`@vladmandic/human (at ${entry}) has no models/centernet.json: install @vladmandic/human@3.3.6`);
}
