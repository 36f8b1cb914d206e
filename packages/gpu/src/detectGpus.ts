import { spawn } from 'node:child_process';
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

/**
 * Parses the output of `nvidia-smi` with {@link NVIDIA_SMI_ARGS}: the GPU records among its lines.
 * Other lines (`WARNING: infoROM is corrupted at gpu ...`, which nvidia-smi prints among the
 * records) are ignored.
 */
export function parseNvidiaSmi(output: string): GpuInfo[] {
  return readNvidiaSmi(output).gpus;
}

/** The GPU records of `nvidia-smi`'s output, and the other non-empty lines. */
function readNvidiaSmi(output: string): { gpus: GpuInfo[]; others: string[] } {
  const gpus: GpuInfo[] = [];
  const others: string[] = [];
  for (const line of output.split('\n').map((text) => text.trim())) {
    if (line === '') continue;
    const gpu = gpuRecord(line);
    if (gpu === undefined) others.push(line);
    else gpus.push(gpu);
  }
  return { gpus, others };
}

/** One line as a GPU, or undefined when it is not a GPU record. */
function gpuRecord(line: string): GpuInfo | undefined {
  const fields = line.split(',').map((field) => field.trim());
  // The name may itself contain commas: index first, the two memory columns last.
  const [index, ...rest] = fields;
  const free = rest.pop();
  const total = rest.pop();
  const gpu = { id: Number(index), name: rest.join(', '), memoryTotalMb: megabytes(total), memoryFreeMb: megabytes(free) };
  const isRecord = /^\d+$/.test(index ?? '') && rest.length > 0 && Number.isFinite(gpu.memoryTotalMb) && Number.isFinite(gpu.memoryFreeMb);
  return isRecord ? gpu : undefined;
}

/** A memory column; `[N/A]` (some virtual GPUs) counts as 0 MB: such a GPU can still be taken whole. */
function megabytes(field: string | undefined): number {
  return field !== undefined && /^\[?N\/A\]?$/i.test(field) ? 0 : Number(field ?? Number.NaN);
}

/** What nvidia-smi prints, on stdout, when the driver runs but sees no GPU (it exits 6). */
const NO_DEVICES = /^No devices were found/m;

async function systemGpus(env: NodeJS.ProcessEnv, command: string, timeoutMs: number): Promise<GpuInfo[]> {
  let output: string;
  try {
    output = await run(command, env, timeoutMs);
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { timedOut?: boolean; stdout?: string; stderr?: string };
    // No nvidia-smi: a machine without NVIDIA GPUs, not a problem worth a word.
    if (failure.code === 'ENOENT') return [];
    if (NO_DEVICES.test(failure.stdout ?? '')) {
      emitWarningOnce(`${command} found no GPU ("No devices were found"), so no GPU is used`, { code: 'VF_NVIDIA_SMI' });
      return [];
    }
    // nvidia-smi says why on stdout as often as on stderr; "Command failed: <command line>" says nothing.
    const said = failure.stderr?.trim() || failure.stdout?.trim();
    const why = failure.timedOut ? `timed out after ${timeoutMs} ms` : (said || failure.message).split('\n')[0];
    emitWarningOnce(`${command} failed, so no GPU is used: ${why}`, { code: 'VF_NVIDIA_SMI' });
    return [];
  }
  const { gpus, others } = readNvidiaSmi(output);
  if (gpus.length === 0 && others.length > 0) {
    const message = NO_DEVICES.test(output)
      ? `${command} found no GPU ("No devices were found"), so no GPU is used`
      : `${command} printed no GPU record, so no GPU is used: ${JSON.stringify(others[0])}`;
    emitWarningOnce(message, { code: 'VF_NVIDIA_SMI' });
  }
  return gpus;
}

/**
 * Runs the query. nvidia-smi is often a wrapper script (containers, environment modules): it runs
 * in a process group of its own, and a timeout kills the whole group, so that no child of the
 * wrapper is left running (`execFile`'s timeout killed the wrapper alone, and left its child an
 * orphan). Rejects with `code` ENOENT when there is no such command.
 */
function run(command: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, NVIDIA_SMI_ARGS, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group has ended already.
      }
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(Object.assign(error, { stdout, stderr }));
    });
    // 'close': the streams are closed too, so every line printed is in.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && !timedOut) resolve(stdout);
      else reject(Object.assign(new Error(`${command} exited with ${signal ?? `code ${code}`}`), { timedOut, stdout, stderr }));
    });
  });
}
