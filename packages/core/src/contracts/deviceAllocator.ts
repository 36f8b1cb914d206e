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
          `node "${node.name}" runs only on a GPU, and no GPU allocator was given to flow.run() (see @vf/gpu)`,
          {
            details: { node: node.name },
          },
        );
      }
      return Array.from({ length: node.nbTasks }, () => ({ device: 'cpu' as const, env: { CUDA_VISIBLE_DEVICES: '-1' } }));
    });
  },
};
