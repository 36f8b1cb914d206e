import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

  it('keeps commas inside a name, reads [N/A] memory as 0, and ignores lines that are not GPU records', () => {
    expect(parseNvidiaSmi('2, GRID T4-8C, rev 2, [N/A], [N/A]')).toEqual([
      { id: 2, name: 'GRID T4-8C, rev 2', memoryTotalMb: 0, memoryFreeMb: 0 },
    ]);
    expect(parseNvidiaSmi('')).toEqual([]);
    expect(parseNvidiaSmi('No devices were found')).toEqual([]);
  });
});

describe('detectGpus with a fake nvidia-smi', () => {
  let dir: string;
  let capture: ReturnType<typeof captureWarnings>;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-gpu-'));
    capture = captureWarnings();
  });
  afterEach(async () => {
    capture.stop();
    vi.unstubAllEnvs();
    // Whatever a failing test left running, by the pids its script wrote.
    for (const name of ['wrapper.pid', 'child.pid']) {
      const pid = Number(await readFile(join(dir, name), 'utf8').catch(() => ''));
      if (pid > 0 && isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    }
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

  /** An executable `nvidia-smi` in the test's folder running `body` (sh); its path. */
  async function fakeNvidiaSmi(body: string): Promise<string> {
    const command = join(dir, 'nvidia-smi');
    await writeFile(command, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return command;
  }

  const warnings = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return capture.warnings;
  };

  it('keeps the GPUs when a line among them is not a GPU record (the infoROM warning), with no warning', async () => {
    const command = await fakeNvidiaSmi(
      [
        'echo "0, NVIDIA A100-SXM4-40GB, 40960, 40000"',
        'echo "WARNING: infoROM is corrupted at gpu 0000:01:00.0"',
        'echo "1, NVIDIA A100-SXM4-40GB, 40960, 39000"',
      ].join('\n'),
    );
    expect(await detectGpus({ command, env: { PATH: process.env.PATH } })).toEqual([
      { id: 0, name: 'NVIDIA A100-SXM4-40GB', memoryTotalMb: 40960, memoryFreeMb: 40000 },
      { id: 1, name: 'NVIDIA A100-SXM4-40GB', memoryTotalMb: 40960, memoryFreeMb: 39000 },
    ]);
    expect(await warnings()).toEqual([]);
  });

  it('"No devices were found" (on stdout, exit 6): no GPU, and a warning saying that none was found', async () => {
    const command = await fakeNvidiaSmi('echo "No devices were found"\nexit 6');
    expect(await detectGpus({ command, env: { PATH: process.env.PATH } })).toEqual([]);
    const found = await warnings();
    expect(found).toHaveLength(1);
    expect(found[0]?.code).toBe('VF_NVIDIA_SMI');
    expect(found[0]?.message).toBe(`${command} found no GPU ("No devices were found"), so no GPU is used`);
  });

  it('a failure said on stdout is the warning, not "Command failed"', async () => {
    const command = await fakeNvidiaSmi('echo "Failed to initialize NVML: Driver/library version mismatch"\nexit 18');
    expect(await detectGpus({ command, env: { PATH: process.env.PATH } })).toEqual([]);
    expect((await warnings())[0]?.message).toBe(
      `${command} failed, so no GPU is used: Failed to initialize NVML: Driver/library version mismatch`,
    );
  });

  it('output with no GPU record at all: no GPU, and a warning quoting it', async () => {
    const command = await fakeNvidiaSmi('echo "something else"');
    expect(await detectGpus({ command, env: { PATH: process.env.PATH } })).toEqual([]);
    expect((await warnings())[0]?.message).toBe(`${command} printed no GPU record, so no GPU is used: "something else"`);
  });

  it('a wrapper script that hangs in a child: the timeout ends the wrapper and its child, nothing is left', async () => {
    // The wrapper waits for a child (`exec sleep` keeps the pid it wrote), as `sleep 30` in a wrapper does.
    const command = await fakeNvidiaSmi(
      [
        `echo $$ > "${dir}/wrapper.pid"`,
        `sh -c 'echo $$ > "$0"; exec sleep 30' "${dir}/child.pid"`,
        'echo "0, NVIDIA A100, 40960, 40000"',
      ].join('\n'),
    );
    const started = performance.now();
    expect(await detectGpus({ command, env: { PATH: process.env.PATH }, timeoutMs: 1_500 })).toEqual([]);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect((await warnings())[0]?.message).toContain('timed out after 1500 ms');
    for (const name of ['wrapper.pid', 'child.pid']) {
      const pid = Number(await readFile(join(dir, name), 'utf8'));
      expect(pid, name).toBeGreaterThan(0);
      // SIGKILL is immediate, but an orphan is reaped by init a moment later: wait, bounded.
      const deadline = performance.now() + 5_000;
      while (isProcessAlive(pid) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(isProcessAlive(pid), `${name} (pid ${pid}) is still running`).toBe(false);
    }
  });
});

describe('visibleGpus', () => {
  const system = [0, 1, 2].map((id) => ({ id, name: 'gpu', memoryTotalMb: 1, memoryFreeMb: 1 }));
  it('takes integer tokens with spaces and signs the way Python int() does, ignoring the rest', () => {
    expect(ids(visibleGpus(system, ' +2 ,1.0,x1,0'))).toEqual([2, 0]);
  });
});
