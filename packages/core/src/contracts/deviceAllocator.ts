import { AllocationError } from '../errors.js';
import type { PlannedNode } from '../plan/executionPlan.js';

/** A device a task runs on: the CPU, or one GPU by id. */
export type Device = 'cpu' | `gpu:${number}`;

/** One task's placement, as decided by a {@link DeviceAllocator}. */
export interface DevicePlacement {
  readonly device: Device;
  /** Environment the task process runs with, e.g. `CUDA_VISIBLE_DEVICES`. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The `DeviceAllocator` port: places every task on a device before anything starts. Called by
 * `flow.run()` with the nodes in topological order; returns, per node, one placement per task;
 * throws `AllocationError` when it cannot. `@vf/gpu` provides the GPU implementation; core's
 * default ({@link cpuOnlyAllocator}) puts everything on the CPU.
 */
export interface DeviceAllocator {
  allocate(nodes: readonly PlannedNode[]): Promise<readonly (readonly DevicePlacement[])[]> | readonly (readonly DevicePlacement[])[];
}

/** Core's default allocator: every task on the CPU with CUDA hidden; GPU-only nodes are refused. */
export const cpuOnlyAllocator: DeviceAllocator = {
  allocate(nodes) {
    return nodes.map((node) => {
      if (node.requiresGpu) {
        throw new AllocationError(
          'NO_GPU',
          `node "${node.name}" runs only on a GPU, and no GPU allocator was given to flow.run() or registered: pass { deviceAllocator: new GpuAllocator() } from @vf/gpu, or import '@vf/gpu' in the flow module`,
          {
            details: { node: node.name },
          },
        );
      }
      return Array.from({ length: node.nbTasks }, () => ({ device: 'cpu' as const, env: { CUDA_VISIBLE_DEVICES: '-1' } }));
    });
  },
};

/** Registered GPU allocators, the latest last: the latest is the default. */
const gpuAllocators: DeviceAllocator[] = [];

/**
 * Registers the allocator `flow.run()` uses when some node asks for a GPU (`deviceType: 'gpu'`, or
 * GPU-only) and no `deviceAllocator` is given. `@vf/gpu` registers its `GpuAllocator` when it is
 * imported, so that GPU nodes get GPUs whenever it is loaded; core cannot import it (it depends on
 * core). The latest registration wins. Returns a function that removes this registration.
 */
export function registerDefaultGpuAllocator(allocator: DeviceAllocator): () => void {
  gpuAllocators.push(allocator);
  return () => {
    const index = gpuAllocators.lastIndexOf(allocator);
    if (index >= 0) gpuAllocators.splice(index, 1);
  };
}

/** The GPU allocator registered last with {@link registerDefaultGpuAllocator}, if any. */
export function defaultGpuAllocator(): DeviceAllocator | undefined {
  return gpuAllocators.at(-1);
}
