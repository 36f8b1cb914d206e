import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isGpuTask, loadTensorflow, selectTensorflow, type TensorflowLoader, type TensorflowPackage } from './tensorflow.js';

const require = createRequire(import.meta.url);
const NOT_BUILT = 'its native binding (tfjs_binding.node) is not built: its install script did not run (see the @vf/gpu README)';

describe('selectTensorflow on this machine (native bindings not built: their install scripts are off)', () => {
  it('the native packages really fail to load here, which is why the chain looks before it loads', () => {
    // Each registers its kernels before it fails, so the second one warns once per kernel: keep that out of the log.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        expect(() => require(name)).toThrow(/tfjs_binding\.node\) can not be found/);
      }
      expect(warn).toHaveBeenCalledWith("The kernel 'Conv2D' for backend 'tensorflow' is already registered");
    } finally {
      warn.mockRestore();
    }
  });

  it('a GPU task passes over tfjs-node-gpu and tfjs-node, saying why, and runs pure-JS on wasm', async () => {
    const loaded = await selectTensorflow({ env: { CUDA_VISIBLE_DEVICES: '0' } });
    expect(loaded.package).toBe('@tensorflow/tfjs');
    expect(loaded.backend).toBe('wasm');
    expect(loaded.tf.getBackend()).toBe('wasm');
    expect(loaded.skipped).toEqual([
      { package: '@tensorflow/tfjs-node-gpu', reason: NOT_BUILT },
      { package: '@tensorflow/tfjs-node', reason: NOT_BUILT },
    ]);
    expect(loaded.reason).toBe(
      `pure-JS TensorFlow.js on its WebAssembly backend (passed over @tensorflow/tfjs-node-gpu: ${NOT_BUILT}; @tensorflow/tfjs-node: ${NOT_BUILT})`,
    );
    expect(loaded.tf.tensor1d([1, 2, 3]).square().arraySync()).toEqual([1, 4, 9]);
  });

  it('a CPU task does not try tfjs-node-gpu; the cpu backend can be asked for', async () => {
    const loaded = await selectTensorflow({ env: { CUDA_VISIBLE_DEVICES: '-1' }, pureJsBackend: 'cpu' });
    expect(loaded.backend).toBe('cpu');
    expect(loaded.skipped[0]).toEqual({
      package: '@tensorflow/tfjs-node-gpu',
      reason: 'this task runs on the CPU (CUDA_VISIBLE_DEVICES="-1")',
    });
    await selectTensorflow({ env: {} }); // back to wasm for the other tests of this file
  });

  it('loadTensorflow() loads once per process', async () => {
    const first = loadTensorflow();
    expect(loadTensorflow({ pureJsBackend: 'cpu' })).toBe(first);
    expect((await first).backend).toBe('wasm');
  });
});

describe('selectTensorflow with an injected loader (native bindings present)', () => {
  let dir: string;
  const realTf = require('@tensorflow/tfjs');
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-tf-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A loader for which `built` packages have a binding file, `failing` ones throw on load; the rest is real. */
  async function loader(built: TensorflowPackage[], failing: TensorflowPackage[] = []): Promise<TensorflowLoader & { loaded: string[] }> {
    for (const name of built) await mkdir(join(dir, name, 'lib', 'napi-v8'), { recursive: true });
    for (const name of built) await writeFile(join(dir, name, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
    const loaded: string[] = [];
    return {
      loaded,
      packageDir: (name) => join(dir, name),
      load: (name) => {
        loaded.push(name);
        if (failing.includes(name as TensorflowPackage)) throw new Error('libcudart.so.11.0: cannot open shared object file\nmore');
        return name === '@tensorflow/tfjs-backend-wasm' ? require(name) : realTf;
      },
    };
  }

  it('a GPU task takes tfjs-node-gpu when its binding loads', async () => {
    const fake = await loader(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    const loaded = await selectTensorflow({ env: { CUDA_VISIBLE_DEVICES: '1' }, loader: fake });
    expect(loaded).toMatchObject({
      package: '@tensorflow/tfjs-node-gpu',
      reason: '@tensorflow/tfjs-node-gpu loaded its native binding',
      skipped: [],
    });
    expect(fake.loaded).toEqual(['@tensorflow/tfjs-node-gpu']);
  });

  it('a binding that fails to load (no CUDA libraries): the next candidate, with the error in the reason', async () => {
    const fake = await loader(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'], ['@tensorflow/tfjs-node-gpu']);
    const loaded = await selectTensorflow({ env: {}, loader: fake });
    expect(loaded.package).toBe('@tensorflow/tfjs-node');
    expect(loaded.reason).toBe(
      '@tensorflow/tfjs-node loaded its native binding (passed over @tensorflow/tfjs-node-gpu: its native binding failed to load: libcudart.so.11.0: cannot open shared object file)',
    );
  });

  it('a CPU task takes tfjs-node, never tfjs-node-gpu', async () => {
    const fake = await loader(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    const loaded = await selectTensorflow({ env: { CUDA_VISIBLE_DEVICES: '-1' }, loader: fake });
    expect(loaded.package).toBe('@tensorflow/tfjs-node');
    expect(fake.loaded).toEqual(['@tensorflow/tfjs-node']);
  });

  it('packages that are not installed are passed over as such', async () => {
    const fake = await loader([]);
    const loaded = await selectTensorflow({ env: { CUDA_VISIBLE_DEVICES: '0' }, loader: { ...fake, packageDir: () => undefined } });
    expect(loaded.skipped.map((entry) => entry.reason)).toEqual(['not installed', 'not installed']);
    expect(loaded.package).toBe('@tensorflow/tfjs');
  });
});

describe('isGpuTask', () => {
  it.each([
    [undefined, true],
    ['0', true],
    [' 2,3', true],
    ['GPU-8f6f2a7e-1c1d-4f5e-9a70-0e2e8c1e2b6d', true],
    ['-1', false],
    ['', false],
    ['none', false],
  ])('CUDA_VISIBLE_DEVICES=%j → %s', (value, expected) => {
    expect(isGpuTask(value === undefined ? {} : { CUDA_VISIBLE_DEVICES: value })).toBe(expected);
  });
});
