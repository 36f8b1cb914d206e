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
   * The `ngpu` devices this operation may use, as `CUDA_VISIBLE_DEVICES` names them: indices or
   * `GPU-<uuid>` / `MIG-<uuid>` tokens, taken from the run's `CUDA_VISIBLE_DEVICES` (under SLURM
   * `--gres=gpu:N` it lists the job's GPUs; unset: `0, 1, 2, ...`). Operations running at once get
   * disjoint devices.
   */
  readonly devices: readonly string[];
  /** The integer ids among `devices` (what a device allocator places tasks on; a UUID has none). */
  readonly gpuIds: readonly number[];
  /**
   * `devices` as a `CUDA_VISIBLE_DEVICES` value (`''` when `ngpu` is 0: no GPU visible). Give it to
   * a GPU allocator that reads that variable, e.g. `@vf/gpu`'s:
   * `new GpuAllocator({ env: { ...process.env, CUDA_VISIBLE_DEVICES: budget.cudaVisibleDevices } })`.
   */
  readonly cudaVisibleDevices: string;
  /** Environment restricting a child process to the budget: `CUDA_VISIBLE_DEVICES` when `ngpu` > 0, else nothing. */
  readonly env: Readonly<Record<string, string>>;
}

/** A device name CUDA accepts in `CUDA_VISIBLE_DEVICES`: an index, or a GPU or MIG instance UUID. */
const DEVICE_TOKEN = /^(\d+|(GPU|MIG)-[A-Za-z0-9/-]+)$/;

/**
 * The devices a `CUDA_VISIBLE_DEVICES` value names, read as CUDA does: in order, up to the first
 * token that is not a device (so `-1` or `''` name none). Undefined when the variable is unset.
 */
export function visibleDevices(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const devices: string[] = [];
  for (const token of value.split(',').map((word) => word.trim())) {
    if (!DEVICE_TOKEN.test(token)) break;
    devices.push(token);
  }
  return devices;
}

/**
 * Turns resolved directives into a {@link FlowBudget}: the first `ngpu` devices of
 * `CUDA_VISIBLE_DEVICES` in `env` (unset: `0 … ngpu-1`). Throws `NO_GPU` when it names fewer than
 * `ngpu` devices: an operation never silently gets fewer GPUs than it asked for.
 */
export function flowBudget(directives: Pick<ResolvedDirectives, 'np' | 'ngpu'>, env: NodeJS.ProcessEnv = process.env): FlowBudget {
  const visible = visibleDevices(env.CUDA_VISIBLE_DEVICES) ?? Array.from({ length: directives.ngpu }, (_, index) => String(index));
  if (visible.length < directives.ngpu) throw notEnoughGpus(directives.ngpu, visible, env.CUDA_VISIBLE_DEVICES ?? '');
  const devices = visible.slice(0, directives.ngpu);
  return {
    np: directives.np,
    ngpu: directives.ngpu,
    devices,
    gpuIds: devices.filter((device) => /^\d+$/.test(device)).map(Number),
    cudaVisibleDevices: devices.join(','),
    env: directives.ngpu > 0 ? { CUDA_VISIBLE_DEVICES: devices.join(',') } : {},
  };
}

function notEnoughGpus(ngpu: number, visible: readonly string[], value: string, label = 'an operation'): GroupsError {
  return new GroupsError(
    'NO_GPU',
    `${label} needs ngpu=${ngpu} GPU(s) but CUDA_VISIBLE_DEVICES=${JSON.stringify(value)} names ${visible.length} (${visible.join(', ') || 'none'}); lower ngpu or run where more GPUs are visible`,
    { details: { ngpu, visible } },
  );
}

/**
 * The GPUs of one `run` (its `CUDA_VISIBLE_DEVICES`; unset: `0, 1, 2, ...` without bound), handed
 * out so that operations running at once (`--parallel`) get disjoint devices: an operation waits
 * until enough are free, and one needing more than there are fails with `NO_GPU`.
 */
export class GpuPool {
  /** The named devices; undefined when `CUDA_VISIBLE_DEVICES` is unset (position `i` is device `i`). */
  readonly #devices: readonly string[] | undefined;
  readonly #value: string;
  /** Positions in use. */
  readonly #used = new Set<number>();
  readonly #waiting: (() => void)[] = [];

  constructor(cudaVisibleDevices: string | undefined) {
    this.#devices = visibleDevices(cudaVisibleDevices);
    this.#value = cudaVisibleDevices ?? '';
  }

  /** Takes `count` devices (the lowest free ones), waiting while too few are free; resolves with them and their release. */
  async acquire(count: number, label: string): Promise<{ readonly devices: readonly string[]; release(): void }> {
    if (count === 0) return { devices: [], release: () => {} };
    const size = this.#devices?.length ?? Number.POSITIVE_INFINITY;
    if (count > size) throw notEnoughGpus(count, this.#devices ?? [], this.#value, label);
    while (size - this.#used.size < count) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    const positions: number[] = [];
    for (let position = 0; positions.length < count; position++) if (!this.#used.has(position)) positions.push(position);
    for (const position of positions) this.#used.add(position);
    let released = false;
    return {
      devices: positions.map((position) => this.#devices?.[position] ?? String(position)),
      release: () => {
        if (released) return;
        released = true;
        for (const position of positions) this.#used.delete(position);
        // Every waiter checks again; those still short wait for the next release.
        for (const wake of this.#waiting.splice(0)) wake();
      },
    };
  }
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
