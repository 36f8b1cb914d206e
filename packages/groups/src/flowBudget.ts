import { type ExecutionEngine, Flow, type FlowReport, InProcessEngine, isVfError } from '@vf/core';
import { cpuOnlyAllocator, type DeviceAllocator } from '@vf/core/engine';
import type { ResolvedDirectives } from './directives.js';
import { GroupsError } from './errors.js';

/**
 * What a flow run by an operation may use, from the directives of the group the operation runs in:
 * at most `np` task processes and at most `ngpu` GPUs, namely `gpuIds`.
 */
export interface FlowBudget {
  /** Cap on the flow's task processes (the `np` directive). */
  readonly np: number;
  /** Cap on the GPUs the flow's allocator may hand out (the `ngpu` directive). */
  readonly ngpu: number;
  /**
   * The GPU ids the allocator may hand out: the first `ngpu` integer ids of `CUDA_VISIBLE_DEVICES`
   * when it is set (under SLURM `--gres=gpu:N` it lists the job's GPUs), else `0 … ngpu-1`.
   */
  readonly gpuIds: readonly number[];
  /**
   * `gpuIds` as a `CUDA_VISIBLE_DEVICES` value (`''` when `ngpu` is 0: no GPU visible). Give it to
   * a GPU allocator that reads that variable, e.g. `@vf/gpu`'s:
   * `new GpuAllocator({ env: { ...process.env, CUDA_VISIBLE_DEVICES: budget.cudaVisibleDevices } })`.
   */
  readonly cudaVisibleDevices: string;
  /** Environment restricting a child process to the budget: `CUDA_VISIBLE_DEVICES` when `ngpu` > 0, else nothing. */
  readonly env: Readonly<Record<string, string>>;
}

/** Turns resolved directives into a {@link FlowBudget}, reading `CUDA_VISIBLE_DEVICES` from `env`. */
export function flowBudget(directives: Pick<ResolvedDirectives, 'np' | 'ngpu'>, env: NodeJS.ProcessEnv = process.env): FlowBudget {
  const visible = env.CUDA_VISIBLE_DEVICES;
  const candidates =
    visible === undefined
      ? Array.from({ length: directives.ngpu }, (_, index) => index)
      : visible
          .split(',')
          .map((token) => token.trim())
          .filter((token) => /^\d+$/.test(token))
          .map(Number);
  const gpuIds = candidates.slice(0, directives.ngpu);
  return {
    np: directives.np,
    ngpu: directives.ngpu,
    gpuIds,
    cudaVisibleDevices: gpuIds.join(','),
    env: directives.ngpu > 0 ? { CUDA_VISIBLE_DEVICES: gpuIds.join(',') } : {},
  };
}

/**
 * Wraps a device allocator so that a flow stays inside `budget`: more tasks than `np` or a GPU
 * outside `gpuIds` (so more than `ngpu`) make `flow.run()` reject with `BUDGET_EXCEEDED` before
 * any task starts. `inner` places the tasks (default: core's CPU-only allocator; a GPU allocator
 * such as `@vf/gpu`'s should be built from `budget.gpuIds`).
 */
export function budgetAllocator(budget: FlowBudget, inner: DeviceAllocator = cpuOnlyAllocator, label = 'this operation'): DeviceAllocator {
  return {
    async allocate(nodes) {
      const tasks = nodes.reduce((sum, node) => sum + node.nbTasks, 0);
      if (tasks > budget.np) {
        const detail = nodes.map((node) => `${node.name}×${node.nbTasks}`).join(', ');
        throw new GroupsError(
          'BUDGET_EXCEEDED',
          `the flow of ${label} needs ${tasks} task processes but its directives allow np=${budget.np} (${detail}); raise np or lower nbTasks`,
          { details: { tasks, np: budget.np } },
        );
      }
      const placements = await inner.allocate(nodes);
      const allowed = new Set(budget.gpuIds);
      const used = new Set<number>();
      for (const perNode of placements) {
        for (const placement of perNode) if (placement.device !== 'cpu') used.add(Number(placement.device.slice(4)));
      }
      const outside = [...used].filter((id) => !allowed.has(id));
      if (outside.length > 0) {
        throw new GroupsError(
          'BUDGET_EXCEEDED',
          `the flow of ${label} was given GPU(s) ${outside.join(', ')}, outside its budget of ngpu=${budget.ngpu} (GPUs [${budget.gpuIds.join(', ')}])`,
          { details: { gpus: [...used], allowed: budget.gpuIds, ngpu: budget.ngpu } },
        );
      }
      return placements;
    },
  };
}

/** How an operation runs a flow: which engine and which device allocator, both built from the budget. */
export interface FlowRunnerOptions {
  /** Builds the engine (default: core's `InProcessEngine`; pass `() => new BatchExecutionEngine()` for one process per task). */
  readonly engine?: (budget: FlowBudget) => ExecutionEngine;
  /** Builds the device allocator (default: core's CPU-only allocator). It is wrapped by {@link budgetAllocator}. */
  readonly deviceAllocator?: (budget: FlowBudget) => DeviceAllocator;
}

/**
 * Loads a flow module (`Flow.load`), runs it within `budget` and returns its report (any status).
 * Rejects with `BUDGET_EXCEEDED` (and starts nothing) when the flow needs more than the budget.
 */
export async function runFlowWithBudget(
  moduleUrl: string | URL,
  params: unknown,
  budget: FlowBudget,
  options: FlowRunnerOptions & { readonly label?: string } = {},
): Promise<FlowReport> {
  const flow = await Flow.load(moduleUrl, params);
  const engine = options.engine?.(budget) ?? new InProcessEngine();
  const allocator = budgetAllocator(budget, options.deviceAllocator?.(budget), options.label);
  try {
    await flow.run(engine, { deviceAllocator: allocator, handleSigint: false });
  } catch (error) {
    // A flow that failed while starting (a node's open() threw) has a report; a refused one has none.
    if (!isVfError(error) || error.code !== 'TASK_FAILED') throw error;
  }
  return flow.join();
}
