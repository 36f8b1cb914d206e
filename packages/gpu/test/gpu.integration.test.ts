import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AllocationError, Flow } from '@vf/core';
import { findLeftovers } from '@vf/core/testing';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EdgeDetector, GpuAllocator } from '../src/index.js';
import { fakeNvidiaSmiDir } from './fixtures/fakeGpus.js';
import { PatternFrames } from './flows/edges.js';
import type { TaskView } from './flows/gpuTasks.js';

const flowUrl = (name: string) => new URL(`./flows/${name}.ts`, import.meta.url);

const readJsonLines = async <T>(file: string): Promise<T[]> =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);

/** Every task process of the run has exited and its socket directory is gone. */
function expectNoTaskLeft(engine: BatchExecutionEngine): void {
  expect(engine.pids.length).toBeGreaterThan(0);
  expect(findLeftovers(engine)).toEqual([]);
}

// The tasks inherit this process's environment: the fake nvidia-smi (first on PATH) is what both the
// allocator here and detectGpus() inside each task run.
describe('GpuAllocator with the batch engine (fake nvidia-smi first on PATH)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-gpu-flow-'));
    vi.stubEnv('PATH', `${fakeNvidiaSmiDir}:${process.env.PATH ?? ''}`);
    vi.stubEnv('FAKE_NVIDIA_SMI_GPUS', '2');
    vi.stubEnv('CUDA_VISIBLE_DEVICES', undefined);
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await rm(dir, { recursive: true, force: true });
  });

  it('each task process sees its own CUDA_VISIBLE_DEVICES; replicas do not share device state', { timeout: 60_000 }, async () => {
    const out = join(dir, 'views.jsonl');
    const flow = await Flow.load(flowUrl('gpuTasks'), { out, nbTasks: 3 });
    const engine = new BatchExecutionEngine({ queueSize: 4 });
    await flow.run(engine, { deviceAllocator: new GpuAllocator() });
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(report.nodes.map((node) => [node.name, node.device])).toEqual([
      ['numbers', ['cpu']],
      ['probe', ['gpu:0', 'gpu:1', 'cpu']],
      ['sink', ['cpu']],
    ]);

    const views = await readJsonLines<TaskView>(out);
    const probes = views.filter((view) => view.node === 'probe').sort((a, b) => a.cudaVisibleDevices!.localeCompare(b.cudaVisibleDevices!));
    expect(
      probes.map(({ cudaVisibleDevices, cudaDeviceOrder, deviceType, visibleGpus }) => ({
        cudaVisibleDevices,
        cudaDeviceOrder,
        deviceType,
        visibleGpus,
      })),
    ).toEqual([
      // The replica placed on the CPU switched its own node to the CPU (changeDevice) ...
      { cudaVisibleDevices: '-1', cudaDeviceOrder: process.env.CUDA_DEVICE_ORDER, deviceType: 'cpu', visibleGpus: [] },
      // ... while its siblings, other processes with other node objects, stayed on their GPUs.
      { cudaVisibleDevices: '0', cudaDeviceOrder: 'PCI_BUS_ID', deviceType: 'gpu', visibleGpus: [0] },
      { cudaVisibleDevices: '1', cudaDeviceOrder: 'PCI_BUS_ID', deviceType: 'gpu', visibleGpus: [1] },
    ]);
    expect(new Set(probes.map((view) => view.pid)).size).toBe(3);
    expect(probes.every((view) => view.pid !== process.pid)).toBe(true);
    expect(views.find((view) => view.node === 'sink')).toMatchObject({ cudaVisibleDevices: '-1', visibleGpus: [] });
    // The host's node objects were never touched by the allocation.
    expect(flow.nodes.find((node) => node.name === 'probe')?.deviceType).toBe('gpu');
    expectNoTaskLeft(engine);
  });

  it('no deviceAllocator given: GPU nodes still get GPUs, because importing @vf/gpu registered its allocator', {
    timeout: 60_000,
  }, async () => {
    vi.stubEnv('FAKE_NVIDIA_SMI_GPUS', '3');
    const out = join(dir, 'views.jsonl');
    // The flow module imports @vf/gpu (gpuOnly, detectGpus), as this test file does.
    const flow = await Flow.load(flowUrl('gpuTasks'), { out, nbTasks: 2 });
    const engine = new BatchExecutionEngine({ queueSize: 4 });
    await flow.run(engine);
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(report.nodes.find((node) => node.name === 'probe')?.device).toEqual(['gpu:0', 'gpu:1']);
    const probes = (await readJsonLines<TaskView>(out)).filter((view) => view.node === 'probe');
    expect(probes.map((view) => view.cudaVisibleDevices).sort()).toEqual(['0', '1']);
    expectNoTaskLeft(engine);
  });

  it('GPU-only nodes beyond the GPUs: run() rejects with AllocationError naming the node before any process starts', async () => {
    const out = join(dir, 'views.jsonl');
    const flow = await Flow.load(flowUrl('gpuTasks'), { out, nbTasks: 1, gpuOnly: 3 });
    const engine = new BatchExecutionEngine();
    const error = await flow.run(engine, { deviceAllocator: new GpuAllocator() }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(AllocationError);
    expect(error).toMatchObject({ code: 'NO_GPU', details: { node: 'only2' } });
    expect((error as Error).message).toContain('node "only2" runs only on a GPU');
    expect(engine.pids).toEqual([]);
    await expect(readFile(out, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('EdgeDetector runs on a GPU task and on a CPU task, each on the backend it could load, with the same results', {
    timeout: 60_000,
  }, async () => {
    vi.stubEnv('FAKE_NVIDIA_SMI_GPUS', '1');
    const params = { out: join(dir, 'sums.jsonl'), log: join(dir, 'tf.jsonl'), nbTasks: 2, count: 6, width: 96, height: 64 };
    const flow = await Flow.load(flowUrl('edges'), params);
    const engine = new BatchExecutionEngine({ queueSize: 2 });
    await flow.run(engine, { deviceAllocator: new GpuAllocator() });
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(report.nodes.find((node) => node.name === 'edges')?.device).toEqual(['gpu:0', 'cpu']);

    const choices = (
      await readJsonLines<{ cuda: string; package: string; backend: string; skipped: { reason: string }[] }>(params.log)
    ).sort((a, b) => a.cuda.localeCompare(b.cuda));
    expect(choices.map(({ cuda, package: name, backend }) => ({ cuda, name, backend }))).toEqual([
      { cuda: '-1', name: '@tensorflow/tfjs', backend: 'wasm' },
      { cuda: '0', name: '@tensorflow/tfjs', backend: 'wasm' },
    ]);
    // The CPU task did not try tfjs-node-gpu; the GPU task did, and found no native binding here.
    expect(choices[0]?.skipped[0]?.reason).toBe('this task runs on the CPU (CUDA_VISIBLE_DEVICES="-1")');
    expect(choices[1]?.skipped[0]?.reason).toMatch(/^its native binding \(tfjs_binding.node\) is not built/);

    // Same sums as the detector computes in this process.
    const local = new EdgeDetector();
    await local.open();
    const expected: { index: number; sum: number }[] = [];
    for (const frame of new PatternFrames(params.count, params.width, params.height).produce()) {
      expected.push({ index: frame.index, sum: (await local.process(frame)).data.reduce((total, value) => total + value, 0) });
    }
    local.close();
    expect(await readJsonLines(params.out)).toEqual(expected);
    expect(expected.some((entry) => entry.sum > 0)).toBe(true);
    expectNoTaskLeft(engine);
  });
});
