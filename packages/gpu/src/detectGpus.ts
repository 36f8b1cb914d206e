import { execFile } from 'node:child_process';
import { emitWarningOnce } from '@vf/core/engine';

/** One GPU as `nvidia-smi` describes it. */
export interface GpuInfo {
  /** The `nvidia-smi` index: the id `CUDA_VISIBLE_DEVICES` takes with `CUDA_DEVICE_ORDER=PCI_BUS_ID`. */
  readonly id: number;
  readonly name: string;
  readonly memoryTotalMb: number;
  /** Free memory when it was probed; what `gpuMemoryMb` tasks may share. */
  readonly memoryFreeMb: number;
}

/** Options of {@link detectGpus}: the environment, injectable so that tests need no hardware. */
export interface DetectGpusOptions {
  /** Environment read for `CUDA_VISIBLE_DEVICES`, and whose `PATH` finds `nvidia-smi`. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** The command. Default `'nvidia-smi'` (looked up on the `PATH` of {@link DetectGpusOptions.env}). */
  readonly command?: string;
  /** `nvidia-smi` is killed after this long and no GPU is reported. Default 10 s. */
  readonly timeoutMs?: number;
}

/** The query {@link detectGpus} runs, and its output format (one GPU per line). */
export const NVIDIA_SMI_ARGS = ['--query-gpu=index,name,memory.total,memory.free', '--format=csv,noheader,nounits'] as const;

/**
 * The GPUs visible to this process: those `nvidia-smi` lists, intersected with
 * `CUDA_VISIBLE_DEVICES` as Videoflow does (unset: all; empty: none; tokens that are not integers
 * and ids not on the system are ignored), in `CUDA_VISIBLE_DEVICES` order.
 *
 * Never throws and never hangs: no `nvidia-smi` means no GPU; one that fails, times out or prints
 * something unreadable means no GPU too, with a process warning (`VF_NVIDIA_SMI`) saying why.
 *
 * @example
 * ```ts
 * const gpus = await detectGpus(); // [{ id: 0, name: 'NVIDIA A100-SXM4-40GB', memoryTotalMb: 40960, memoryFreeMb: 40327 }]
 * ```
 */
export async function detectGpus(options: DetectGpusOptions = {}): Promise<GpuInfo[]> {
  const env = options.env ?? process.env;
  return visibleGpus(await systemGpus(env, options.command ?? 'nvidia-smi', options.timeoutMs ?? 10_000), env.CUDA_VISIBLE_DEVICES);
}

/**
 * Applies `CUDA_VISIBLE_DEVICES` to the GPUs of the system, with Videoflow's rules. The result
 * follows the variable's order (CUDA numbers visible devices in that order); duplicates count once.
 */
export function visibleGpus(system: readonly GpuInfo[], cudaVisibleDevices: string | undefined): GpuInfo[] {
  if (cudaVisibleDevices === undefined) return [...system];
  const byId = new Map(system.map((gpu) => [gpu.id, gpu]));
  const visible = new Map<number, GpuInfo>();
  for (const token of cudaVisibleDevices.split(',')) {
    const text = token.trim();
    if (!/^[+-]?\d+$/.test(text)) continue;
    const gpu = byId.get(Number(text));
    if (gpu !== undefined) visible.set(gpu.id, gpu);
  }
  return [...visible.values()];
}

/** Parses the output of `nvidia-smi` with {@link NVIDIA_SMI_ARGS}; throws on a line it cannot read. */
export function parseNvidiaSmi(output: string): GpuInfo[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const fields = line.split(',').map((field) => field.trim());
      // The name may itself contain commas: index first, the two memory columns last.
      const [index, ...rest] = fields;
      const free = rest.pop();
      const total = rest.pop();
      const gpu = { id: Number(index), name: rest.join(', '), memoryTotalMb: megabytes(total), memoryFreeMb: megabytes(free) };
      if (!/^\d+$/.test(index ?? '') || rest.length === 0 || !Number.isFinite(gpu.memoryTotalMb) || !Number.isFinite(gpu.memoryFreeMb)) {
        throw new Error(`unexpected nvidia-smi line: ${JSON.stringify(line)}`);
      }
      return gpu;
    });
}

/** A memory column; `[N/A]` (some virtual GPUs) counts as 0 MB: such a GPU can still be taken whole. */
function megabytes(field: string | undefined): number {
  return field !== undefined && /^\[?N\/A\]?$/i.test(field) ? 0 : Number(field ?? Number.NaN);
}

async function systemGpus(env: NodeJS.ProcessEnv, command: string, timeoutMs: number): Promise<GpuInfo[]> {
  let output: string;
  try {
    output = await run(command, env, timeoutMs);
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { killed?: boolean; stderr?: string };
    // No nvidia-smi: a machine without NVIDIA GPUs, not a problem worth a word.
    if (failure.code === 'ENOENT') return [];
    const why = failure.killed ? `timed out after ${timeoutMs} ms` : (failure.stderr?.trim() || failure.message).split('\n')[0];
    emitWarningOnce(`${command} failed, so no GPU is used: ${why}`, { code: 'VF_NVIDIA_SMI' });
    return [];
  }
  try {
    return parseNvidiaSmi(output);
  } catch (error) {
    emitWarningOnce(`${command} printed something unexpected, so no GPU is used: ${(error as Error).message}`, {
      code: 'VF_NVIDIA_SMI',
    });
    return [];
  }
}

function run(command: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, NVIDIA_SMI_ARGS, { env, timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stderr }));
      else resolve(stdout);
    });
  });
}
