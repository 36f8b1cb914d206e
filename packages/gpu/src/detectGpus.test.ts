import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogs, isProcessAlive } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeGpuEnv, fakeNvidiaSmiDir } from '../test/fixtures/fakeGpus.js';
import { detectGpus, parseNvidiaSmi, visibleGpus } from './detectGpus.js';

const ids = (gpus: readonly { id: number }[]) => gpus.map((gpu) => gpu.id);

/** Collects the warnings vf logs until `stop()`. */
function captureWarnings() {
  const logs = captureLogs('warn');
  return {
    get warnings() {
      return logs.records.filter((record) => record.level === 40).map((record) => ({ code: record.code, message: record.msg }));
    },
    stop: logs.stop,
  };
}

describe('parseNvidiaSmi', () => {
  it('reads the lines of --query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits', () => {
    const output = '0, NVIDIA A100-SXM4-40GB, 40960, 40327\n1, Tesla V100-SXM2-16GB, 16160, 3\n';
    expect(parseNvidiaSmi(output)).toEqual([
      { id: 0, name: 'NVIDIA A100-SXM4-40GB', memoryTotalMb: 40960, memoryFreeMb: 40327 },
      { id: 1, name: 'Tesla V100-SXM2-16GB', memoryTotalMb: 16160, memoryFreeMb: 3 },
    ]);
  });

  it('keeps commas inside a name, reads [N/A] memory as 0, and rejects what it cannot read', () => {
    expect(parseNvidiaSmi('2, GRID T4-8C, rev 2, [N/A], [N/A]')).toEqual([
      { id: 2, name: 'GRID T4-8C, rev 2', memoryTotalMb: 0, memoryFreeMb: 0 },
    ]);
    expect(parseNvidiaSmi('')).toEqual([]);
    expect(() => parseNvidiaSmi('No devices were found')).toThrow(/unexpected nvidia-smi line/);
  });
});

describe('detectGpus with a fake nvidia-smi first on PATH', () => {
  let dir: string;
  let capture: ReturnType<typeof captureWarnings>;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-gpu-'));
    capture = captureWarnings();
  });
  afterEach(async () => {
    capture.stop();
    vi.unstubAllEnvs();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists every GPU when CUDA_VISIBLE_DEVICES is unset, with name and memory, running the documented query', async () => {
    const log = join(dir, 'calls');
    const gpus = await detectGpus({ env: fakeGpuEnv('0,1:16000:12000,3', { FAKE_NVIDIA_SMI_LOG: log }) });
    expect(gpus).toEqual([
      { id: 0, name: 'NVIDIA GeForce RTX 3090', memoryTotalMb: 24576, memoryFreeMb: 24237 },
      { id: 1, name: 'NVIDIA GeForce RTX 3090', memoryTotalMb: 16000, memoryFreeMb: 12000 },
      { id: 3, name: 'NVIDIA GeForce RTX 3090', memoryTotalMb: 24576, memoryFreeMb: 24237 },
    ]);
    expect(await readFile(log, 'utf8')).toBe('--query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits\n');
    expect(capture.warnings).toEqual([]);
  });

  // Videoflow's table (tests of get_gpus_available_to_process), on the GPUs the fake reports.
  it.each([
    { gpus: '2', visible: undefined, expected: [0, 1] },
    { gpus: '2', visible: '', expected: [] },
    { gpus: '0', visible: '0', expected: [] },
    { gpus: '2', visible: '1, 2', expected: [1] },
    { gpus: '2', visible: 'asdfa, 1, 0, asdf', expected: [1, 0] },
    { gpus: '2', visible: '-1', expected: [] },
    { gpus: '0,1,3', visible: '3,1,1', expected: [3, 1] },
  ])('CUDA_VISIBLE_DEVICES=$visible on GPUs "$gpus" → $expected', async ({ gpus, visible, expected }) => {
    const env = fakeGpuEnv(gpus, visible === undefined ? {} : { CUDA_VISIBLE_DEVICES: visible });
    expect(ids(await detectGpus({ env }))).toEqual(expected);
  });

  it('uses process.env by default (PATH finds the fake)', async () => {
    vi.stubEnv('PATH', `${fakeNvidiaSmiDir}:${process.env.PATH ?? ''}`);
    vi.stubEnv('FAKE_NVIDIA_SMI_GPUS', '0,1,3');
    vi.stubEnv('CUDA_VISIBLE_DEVICES', '3,0');
    expect(ids(await detectGpus())).toEqual([3, 0]);
  });

  it('no nvidia-smi on PATH: no GPU, no error, no warning', async () => {
    expect(await detectGpus({ env: { PATH: dir } })).toEqual([]);
    expect(capture.warnings).toEqual([]);
  });

  it('an nvidia-smi that fails: no GPU, and a VF_NVIDIA_SMI warning with its message', async () => {
    expect(await detectGpus({ env: fakeGpuEnv('2', { FAKE_NVIDIA_SMI_FAIL: '1' }) })).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(capture.warnings).toHaveLength(1);
    expect(capture.warnings[0]?.code).toBe('VF_NVIDIA_SMI');
    expect(capture.warnings[0]?.message).toContain("couldn't communicate with the NVIDIA driver");
  });

  it('an nvidia-smi that hangs is killed after timeoutMs: no GPU, a warning, no process left', async () => {
    const log = join(dir, 'calls');
    const started = performance.now();
    const env = fakeGpuEnv('2', { FAKE_NVIDIA_SMI_HANG: '1', FAKE_NVIDIA_SMI_LOG: log });
    expect(await detectGpus({ env, timeoutMs: 300 })).toEqual([]);
    expect(performance.now() - started).toBeLessThan(3_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(capture.warnings[0]?.message).toContain('timed out after 300 ms');
    const pid = Number(/pid (\d+)/.exec(await readFile(log, 'utf8'))?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(isProcessAlive(pid), `the hung nvidia-smi (pid ${pid}) is still running`).toBe(false);
  });
});

describe('visibleGpus', () => {
  const system = [0, 1, 2].map((id) => ({ id, name: 'gpu', memoryTotalMb: 1, memoryFreeMb: 1 }));
  it('takes integer tokens with spaces and signs the way Python int() does, ignoring the rest', () => {
    expect(ids(visibleGpus(system, ' +2 ,1.0,x1,0'))).toEqual([2, 0]);
  });
});
