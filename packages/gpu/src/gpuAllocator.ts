import { AllocationError, FlowValidationError, ProcessorNode } from '@vf/core';
import type { DeviceAllocator, DevicePlacement, PlannedNode } from '@vf/core/engine';
import { type DetectGpusOptions, detectGpus, type GpuInfo } from './detectGpus.js';

/** Options of {@link GpuAllocator}. */
export interface GpuAllocatorOptions extends DetectGpusOptions {
  /**
   * The GPU probe, called once per `flow.run()`. Default: {@link detectGpus} with the other options
   * (`env`, `command`, `timeoutMs`), i.e. the GPUs `nvidia-smi` lists that this process may use.
   */
  readonly probe?: () => Promise<readonly GpuInfo[]> | readonly GpuInfo[];
}

/** The environment of a task placed on the CPU: CUDA sees no device. */
export const CPU_TASK_ENV: Readonly<Record<string, string>> = Object.freeze({ CUDA_VISIBLE_DEVICES: '-1' });

/** The environment of a task placed on GPU `id` (the `nvidia-smi` index, hence PCI bus order). */
export function gpuTaskEnv(id: number): Readonly<Record<string, string>> {
  return { CUDA_VISIBLE_DEVICES: String(id), CUDA_DEVICE_ORDER: 'PCI_BUS_ID' };
}

/**
 * The GPU {@link DeviceAllocator}: give it to `flow.run(engine, { deviceAllocator })`.
 *
 * Every task of a `deviceType: 'gpu'` node (each replica on its own) gets a GPU and runs with
 * `CUDA_VISIBLE_DEVICES=<id>` and `CUDA_DEVICE_ORDER=PCI_BUS_ID`; every other task gets
 * `CUDA_VISIBLE_DEVICES=-1`. A task takes a whole GPU, unless its node declares `gpuMemoryMb`:
 * such tasks share a GPU while their needs fit in its free memory (never over-committed), and never
 * share with a whole-GPU task. GPU-only nodes ({@link gpuOnly}) are placed first, then the other GPU
 * nodes, each group in topological order, GPUs in the order {@link detectGpus} gives them. A GPU task
 * that finds no GPU runs on the CPU (its task calls `changeDevice('cpu')`); a GPU-only one makes
 * `flow.run()` reject with `AllocationError` `NO_GPU` naming the node, before any process starts.
 *
 * @example
 * ```ts
 * await flow.run(new BatchExecutionEngine(), { deviceAllocator: new GpuAllocator() });
 * console.log(String(await flow.join())); // the device column says where each task ran
 * ```
 */
export class GpuAllocator implements DeviceAllocator {
  readonly #probe: () => Promise<readonly GpuInfo[]> | readonly GpuInfo[];

  constructor(options: GpuAllocatorOptions = {}) {
    const { probe, ...detectOptions } = options;
    this.#probe = probe ?? (() => detectGpus(detectOptions));
  }

  async allocate(nodes: readonly PlannedNode[]): Promise<DevicePlacement[][]> {
    const pool = new GpuPool(await this.#probe());
    const placements: DevicePlacement[][] = nodes.map((node) =>
      Array.from({ length: node.nbTasks }, () => ({ device: 'cpu', env: CPU_TASK_ENV })),
    );
    const wantsGpu = (node: PlannedNode) => node.deviceType === 'gpu' || node.requiresGpu;
    // GPU-only nodes first: a node that may fall back to the CPU must not take the GPU one needs.
    const order = [...nodes.filter((node) => node.requiresGpu), ...nodes.filter((node) => wantsGpu(node) && !node.requiresGpu)];
    for (const node of order) {
      for (let taskIndex = 0; taskIndex < node.nbTasks; taskIndex++) {
        const gpu = pool.take(node.gpuMemoryMb);
        if (gpu !== undefined) {
          (placements[node.index] as DevicePlacement[])[taskIndex] = { device: `gpu:${gpu.id}`, env: gpuTaskEnv(gpu.id) };
        } else if (node.requiresGpu) {
          throw noGpu(node, taskIndex, pool);
        }
      }
    }
    return placements;
  }
}

/** The GPUs of one allocation and what is taken on each. */
class GpuPool {
  readonly #slots: { readonly gpu: GpuInfo; whole: boolean; shared: number; freeMb: number }[];

  constructor(gpus: readonly GpuInfo[]) {
    this.#slots = gpus.map((gpu) => ({ gpu, whole: false, shared: 0, freeMb: gpu.memoryFreeMb }));
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Takes a whole unused GPU, or (with `memoryMb`) room on one that is not taken whole. */
  take(memoryMb: number | undefined): GpuInfo | undefined {
    if (memoryMb === undefined) {
      const slot = this.#slots.find((candidate) => !candidate.whole && candidate.shared === 0);
      if (slot !== undefined) slot.whole = true;
      return slot?.gpu;
    }
    const slot = this.#slots.find((candidate) => !candidate.whole && candidate.freeMb >= memoryMb);
    if (slot === undefined) return undefined;
    slot.shared += 1;
    slot.freeMb -= memoryMb;
    return slot.gpu;
  }

  describe(): string {
    if (this.#slots.length === 0) return 'no GPU is visible to this process (nvidia-smi and CUDA_VISIBLE_DEVICES)';
    const states = this.#slots.map(({ gpu, whole, shared, freeMb }) =>
      whole ? `gpu:${gpu.id} taken whole` : `gpu:${gpu.id} ${shared} shared task(s), ${Math.floor(freeMb)} MB free`,
    );
    return `the ${this.#slots.length} visible GPU(s) are in use: ${states.join('; ')}`;
  }
}

function noGpu(node: PlannedNode, taskIndex: number, pool: GpuPool): AllocationError {
  const need = node.gpuMemoryMb === undefined ? 'a whole GPU' : `${node.gpuMemoryMb} MB of GPU memory`;
  const task = node.nbTasks > 1 ? `task ${taskIndex} of ${node.nbTasks} of node` : 'node';
  return new AllocationError('NO_GPU', `${task} "${node.name}" runs only on a GPU and needs ${need}, but ${pool.describe()}`, {
    details: { node: node.name, taskIndex, nbTasks: node.nbTasks, gpuMemoryMb: node.gpuMemoryMb ?? null, gpus: pool.size },
  });
}

/**
 * Marks a processor class as GPU-only: its `requiresGpu` is true and its `deviceType` always
 * `'gpu'`, so the {@link GpuAllocator} never places it on the CPU (`flow.run()` rejects instead) and
 * `changeDevice('cpu')` throws `AllocationError` `GPU_REQUIRED`. The class keeps its name (and so
 * its nodes' default names) and its constructor.
 *
 * @example
 * ```ts
 * class Detector extends ProcessorNode<[Frame], Box[]> { ... }
 * const GpuDetector = gpuOnly(Detector);
 * const detector = new GpuDetector({ name: 'detector' }).from(frames);
 * ```
 */
// `ProcessorNode<never>` accepts a processor of any input types; the mixin rule (TS2545) wants `any[]` arguments.
// biome-ignore lint/suspicious/noExplicitAny: a mixin's base constructor must take `any[]` (TypeScript rule TS2545).
export function gpuOnly<TClass extends abstract new (...args: any[]) => ProcessorNode<never>>(NodeClass: TClass): TClass {
  if (typeof NodeClass !== 'function' || !(NodeClass.prototype instanceof ProcessorNode)) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `gpuOnly() takes a ProcessorNode subclass, got ${String((NodeClass as { name?: unknown })?.name ?? NodeClass)}`,
    );
  }
  abstract class GpuOnlyNode extends NodeClass {
    override get requiresGpu(): boolean {
      return true;
    }

    override get deviceType(): 'gpu' {
      return 'gpu';
    }
  }
  Object.defineProperty(GpuOnlyNode, 'name', { value: NodeClass.name });
  return GpuOnlyNode;
}
