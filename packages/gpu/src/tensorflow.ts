import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The TensorFlow.js API (`@tensorflow/tfjs`); the native packages export the same API plus `node`. */
export type Tensorflow = typeof import('@tensorflow/tfjs');

/** The packages {@link loadTensorflow} chooses from, best first. */
export type TensorflowPackage = '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node' | '@tensorflow/tfjs';

/** What {@link loadTensorflow} chose, and why. */
export interface LoadedTensorflow {
  readonly tf: Tensorflow;
  /** The package that provides `tf`. */
  readonly package: TensorflowPackage;
  /** `tf.getBackend()`: `'tensorflow'` (native, CUDA with tfjs-node-gpu), `'wasm'` or `'cpu'`. */
  readonly backend: string;
  /** One sentence: why this package and backend. */
  readonly reason: string;
  /** The better candidates passed over, each with why. */
  readonly skipped: readonly { readonly package: TensorflowPackage; readonly reason: string }[];
  /** Time taken to load, in ms. */
  readonly loadMs: number;
}

/** How {@link selectTensorflow} finds and loads packages; injectable for tests. */
export interface TensorflowLoader {
  /** Directory of the installed package, or undefined when it is not installed. */
  packageDir(name: TensorflowPackage): string | undefined;
  /** Loads the package (they are CommonJS) and returns its exports. */
  load(name: TensorflowPackage | '@tensorflow/tfjs-backend-wasm'): unknown;
}

/** Options of {@link loadTensorflow}. */
export interface LoadTensorflowOptions {
  /**
   * Environment that says whether this is a GPU task: `CUDA_VISIBLE_DEVICES` naming a device, or
   * unset (not placed by vf), means it may use a GPU; `-1` or empty means CPU. Default `process.env`.
   */
  readonly env?: NodeJS.ProcessEnv;
  /** Backend of pure-JS `@tensorflow/tfjs`: `'wasm'` (default; falls back to `'cpu'`) or `'cpu'`. */
  readonly pureJsBackend?: 'wasm' | 'cpu';
  /** Default: Node's `require`, from this package. */
  readonly loader?: TensorflowLoader;
}

let loaded: Promise<LoadedTensorflow> | undefined;

/**
 * Inside a task, returns TensorFlow.js on the best backend available, and says which and why:
 * `@tensorflow/tfjs-node-gpu` on a GPU task when its native binding is installed and loads, else
 * `@tensorflow/tfjs-node` when installed with its binding, else pure-JS `@tensorflow/tfjs` on the
 * `wasm` backend (`cpu` if wasm cannot start). Call it in `open()`.
 *
 * TensorFlow.js keeps one engine per process, so the first call decides: later calls return the
 * same result whatever their options.
 *
 * @example
 * ```ts
 * override async open() {
 *   const { tf, backend, reason } = await loadTensorflow();
 *   this.deviceDetail = backend; // the report then says what ran, e.g. `gpu:0 (wasm)`
 *   console.error(`${this.name}: TensorFlow.js on ${backend}: ${reason}`);
 *   this.tf = tf;
 * }
 * ```
 */
export function loadTensorflow(options: LoadTensorflowOptions = {}): Promise<LoadedTensorflow> {
  loaded ??= selectTensorflow(options).catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

/** {@link loadTensorflow} without the per-process memo: every call walks the candidates again. */
export async function selectTensorflow(options: LoadTensorflowOptions = {}): Promise<LoadedTensorflow> {
  const started = performance.now();
  const loader = options.loader ?? nodeLoader;
  const env = options.env ?? process.env;
  const skipped: { package: TensorflowPackage; reason: string }[] = [];
  const gpuTask = isGpuTask(env);
  const finish = async (name: TensorflowPackage, tf: Tensorflow, why: string): Promise<LoadedTensorflow> => {
    await tf.ready();
    const backend = tf.getBackend();
    const passedOver = skipped.map((entry) => `${entry.package}: ${entry.reason}`).join('; ');
    const reason = passedOver === '' ? why : `${why} (passed over ${passedOver})`;
    return { tf, package: name, backend, reason, skipped, loadMs: performance.now() - started };
  };

  const candidates: TensorflowPackage[] = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
  for (const name of candidates) {
    if (name === '@tensorflow/tfjs-node-gpu' && !gpuTask) {
      skipped.push({
        package: name,
        reason: `this task runs on the CPU (CUDA_VISIBLE_DEVICES=${JSON.stringify(env.CUDA_VISIBLE_DEVICES)})`,
      });
      continue;
    }
    const dir = loader.packageDir(name);
    if (dir === undefined) {
      skipped.push({ package: name, reason: 'not installed' });
      continue;
    }
    if (!hasNativeBinding(dir)) {
      skipped.push({
        package: name,
        reason: 'its native binding (tfjs_binding.node) is not built: its install script did not run (see the @vf/gpu README)',
      });
      continue;
    }
    try {
      const tf = loader.load(name) as Tensorflow;
      return await finish(name, tf, `${name} loaded its native binding`);
    } catch (error) {
      skipped.push({ package: name, reason: `its native binding failed to load: ${firstLine(error)}` });
    }
  }

  const tf = loader.load('@tensorflow/tfjs') as Tensorflow;
  if ((options.pureJsBackend ?? 'wasm') === 'wasm') {
    try {
      loader.load('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend('wasm')) return await finish('@tensorflow/tfjs', tf, 'pure-JS TensorFlow.js on its WebAssembly backend');
      skipped.push({ package: '@tensorflow/tfjs', reason: 'the wasm backend did not start' });
    } catch (error) {
      skipped.push({ package: '@tensorflow/tfjs', reason: `the wasm backend failed: ${firstLine(error)}` });
    }
  }
  await tf.setBackend('cpu');
  return finish('@tensorflow/tfjs', tf, 'pure-JS TensorFlow.js on its cpu backend');
}

/** True unless `CUDA_VISIBLE_DEVICES` hides every device (`-1`, empty, or no device id first). */
export function isGpuTask(env: NodeJS.ProcessEnv): boolean {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible === undefined) return true;
  // CUDA reads the list up to its first invalid entry: the first one decides whether any is visible.
  return /^\s*(\d|GPU-|MIG-)/.test(visible);
}

/** Whether a tfjs-node(-gpu) directory holds its native addon (`lib/napi-v<N>/tfjs_binding.node`). */
function hasNativeBinding(packageDir: string): boolean {
  const lib = join(packageDir, 'lib');
  if (!existsSync(lib)) return false;
  return readdirSync(lib).some((entry) => entry.startsWith('napi-v') && existsSync(join(lib, entry, 'tfjs_binding.node')));
}

const require = createRequire(import.meta.url);

const nodeLoader: TensorflowLoader = {
  packageDir(name) {
    try {
      return dirname(require.resolve(`${name}/package.json`));
    } catch {
      return undefined;
    }
  },
  load: (name) => require(name),
};

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]?.trim() ?? '';
}
