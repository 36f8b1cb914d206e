import { cpuOnlyAllocator, type DeviceAllocator, defaultGpuAllocator } from '../contracts/deviceAllocator.js';
import type { Node } from '../nodes/node.js';
import type { ExecutionPlan } from '../plan/executionPlan.js';
import { emitWarningOnce } from '../warnings.js';

/** How `flow.run()` chose its allocator. */
export interface AllocatorChoice {
  readonly allocator: DeviceAllocator;
  /** `given`: the caller's; `registered`: the default GPU allocator; `cpu`: core's CPU-only one. */
  readonly source: 'given' | 'registered' | 'cpu';
}

const wantsGpu = (node: { deviceType: string; requiresGpu: boolean }) => node.deviceType === 'gpu' || node.requiresGpu;

/**
 * The allocator for a run: the one given, else (when a node asks for a GPU) the registered default
 * GPU allocator, else the CPU-only one. A CPU-only flow never runs the GPU allocator's probe.
 */
export function chooseAllocator(nodes: readonly Node[], given: DeviceAllocator | undefined): AllocatorChoice {
  if (given !== undefined) return { allocator: given, source: 'given' };
  const registered = nodes.some(wantsGpu) ? defaultGpuAllocator() : undefined;
  return registered === undefined ? { allocator: cpuOnlyAllocator, source: 'cpu' } : { allocator: registered, source: 'registered' };
}

/**
 * Never silent (the contract: a flow whose nodes ask for a GPU is never placed on the CPU
 * silently, whichever allocator placed it): when tasks of nodes that ask for a GPU were placed on
 * the CPU, one warning (`VF_GPU_ON_CPU`) per node names them and the fix.
 */
export function warnGpuTasksOnCpu(plan: ExecutionPlan, choice: AllocatorChoice): void {
  const onCpu = plan.nodes
    .filter(wantsGpu)
    .map((node) => ({ node, cpuTasks: plan.tasks.filter((task) => task.nodeIndex === node.index && task.device === 'cpu').length }))
    .filter(({ cpuTasks }) => cpuTasks > 0);
  if (onCpu.length === 0) return;
  const names = onCpu.map(({ node }) => `"${node.name}"`).join(', ');
  if (choice.source === 'cpu') {
    emitWarningOnce(
      `${onCpu.length === 1 ? `node ${names} asks` : `nodes ${names} ask`} for a GPU (deviceType: 'gpu') but run${onCpu.length === 1 ? 's' : ''} on the CPU: flow.run() was given no deviceAllocator and no GPU allocator is registered. ` +
        `Pass { deviceAllocator: new GpuAllocator() } from @vf/gpu to flow.run() (or import '@vf/gpu' in the flow module: it registers itself as the default), or set deviceType: 'cpu'`,
      { code: 'VF_GPU_ON_CPU' },
    );
    return;
  }
  for (const { node, cpuTasks } of onCpu) {
    const share = node.nbTasks === 1 ? 'its task runs' : `${cpuTasks} of its ${node.nbTasks} tasks run`;
    const allocator = choice.source === 'given' ? 'the deviceAllocator given to flow.run()' : 'the default GPU allocator';
    emitWarningOnce(
      `node "${node.name}" asks for a GPU, but ${share} on the CPU: ${allocator} found no free GPU for ${cpuTasks === 1 ? 'it' : 'them'}. ` +
        `Check nvidia-smi and CUDA_VISIBLE_DEVICES, lower nbTasks, or set gpuMemoryMb to let tasks share a GPU`,
      { code: 'VF_GPU_ON_CPU' },
    );
  }
}
