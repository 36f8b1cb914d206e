/**
 * Runs only where a real `nvidia-smi` works (a machine with an NVIDIA GPU and its driver); elsewhere
 * every test here is skipped, and the suite's name says why. Nothing is faked: this is the check that
 * the fake `nvidia-smi` of the other tests tells the truth.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectGpus, GpuAllocator, NVIDIA_SMI_ARGS, visibleGpus } from '../src/index.js';
import type { TaskView } from './flows/gpuTasks.js';

const probe = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' });
const hasGpu = probe.status === 0 && /^GPU \d+:/m.test(probe.stdout);
const why = probe.error !== undefined ? probe.error.message : `nvidia-smi -L exited with ${probe.status}`;
if (!hasGpu) console.info(`[@vf/gpu] real-GPU tests skipped: ${why}`);

describe.skipIf(!hasGpu)(hasGpu ? 'on the real GPUs of this machine' : `on real GPUs (skipped: no working nvidia-smi here: ${why})`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-real-gpu-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('detectGpus() agrees with nvidia-smi -L and with this process CUDA_VISIBLE_DEVICES', async () => {
    const gpus = await detectGpus();
    const listed = [...probe.stdout.matchAll(/^GPU (\d+): (.+?) \(UUID/gm)].map((match) => ({ id: Number(match[1]), name: match[2] }));
    const expected = visibleGpus(
      listed.map(({ id, name }) => ({ id, name: name ?? '', memoryTotalMb: 0, memoryFreeMb: 0 })),
      process.env.CUDA_VISIBLE_DEVICES,
    );
    expect(gpus.map(({ id, name }) => ({ id, name }))).toEqual(expected.map(({ id, name }) => ({ id, name })));
    for (const gpu of gpus) {
      expect(gpu.memoryTotalMb).toBeGreaterThan(0);
      expect(gpu.memoryFreeMb).toBeGreaterThanOrEqual(0);
      expect(gpu.memoryFreeMb).toBeLessThanOrEqual(gpu.memoryTotalMb);
    }
    console.info(
      `[@vf/gpu] nvidia-smi ${NVIDIA_SMI_ARGS.join(' ')}:\n${execFileSync('nvidia-smi', NVIDIA_SMI_ARGS, { encoding: 'utf8' })}`,
    );
    console.info(
      `[@vf/gpu] detectGpus() with CUDA_VISIBLE_DEVICES=${JSON.stringify(process.env.CUDA_VISIBLE_DEVICES)}: ${JSON.stringify(gpus)}`,
    );
  });

  it('one task per visible GPU plus one: each GPU task sees exactly its GPU, the last runs on the CPU', { timeout: 120_000 }, async () => {
    const gpus = await detectGpus();
    const out = join(dir, 'views.jsonl');
    const flow = await Flow.load(new URL('./flows/gpuTasks.ts', import.meta.url), { out, nbTasks: gpus.length + 1 });
    await flow.run(new BatchExecutionEngine(), { deviceAllocator: new GpuAllocator() });
    const report = await flow.join();
    expect(report.status).toBe('completed');
    const devices = report.nodes.find((node) => node.name === 'probe')?.device;
    expect(devices).toEqual([...gpus.map((gpu) => `gpu:${gpu.id}`), 'cpu']);

    const views = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as TaskView)
      .filter((view) => view.node === 'probe');
    const seen = Object.fromEntries(views.map((view) => [view.cudaVisibleDevices, view]));
    for (const gpu of gpus) {
      expect(seen[String(gpu.id)]).toMatchObject({ cudaDeviceOrder: 'PCI_BUS_ID', deviceType: 'gpu', visibleGpus: [gpu.id] });
    }
    expect(seen['-1']).toMatchObject({ deviceType: 'cpu', visibleGpus: [] });
    console.info(`[@vf/gpu] task views: ${JSON.stringify(views)}`);
  });
});
