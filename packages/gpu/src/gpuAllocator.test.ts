import { AllocationError, Flow, FlowValidationError, isVfError, ProcessorNode, type ProcessorOptions } from '@vf/core';
import { buildExecutionPlan, type ExecutionPlan } from '@vf/core/engine';
import { IntProducer, VoidConsumer } from '@vf/core/nodes';
import { describe, expect, it } from 'vitest';
import { fakeGpuEnv } from '../test/fixtures/fakeGpus.js';
import { GpuAllocator, gpuOnly } from './gpuAllocator.js';

class Model extends ProcessorNode<[number], number> {
  process(value: number) {
    return value;
  }
}
const GpuOnlyModel = gpuOnly(Model);

/** A chain producer → processors (in the given order) → collector. */
function chain(...processors: Model[]): Flow {
  const source = new IntProducer(0, 3, { name: 'source' });
  let last: Model | IntProducer = source;
  for (const processor of processors) last = processor.from(last);
  return new Flow([source], [new VoidConsumer({ name: 'sink' }).from(last)]);
}

/** node name → devices of its tasks. */
function devices(plan: ExecutionPlan): Record<string, string[]> {
  const byNode: Record<string, string[]> = {};
  for (const task of plan.tasks) byNode[task.nodeName] = [...(byNode[task.nodeName] ?? []), task.device];
  return byNode;
}

const allocator = (gpus: string, extra: NodeJS.ProcessEnv = {}) => new GpuAllocator({ env: fakeGpuEnv(gpus, extra) });

describe('GpuAllocator (fake nvidia-smi on PATH)', () => {
  it('3 GPU-only nodes on GPUs [0, 1, 3]: one GPU each, with CUDA_VISIBLE_DEVICES and PCI bus order', async () => {
    const flow = chain(...['a', 'b', 'c'].map((name) => new GpuOnlyModel({ name })));
    const plan = await buildExecutionPlan(flow.graph, allocator('0,1,3'));
    expect(devices(plan)).toEqual({ source: ['cpu'], a: ['gpu:0'], b: ['gpu:1'], c: ['gpu:3'], sink: ['cpu'] });
    expect(plan.tasks.map((task) => task.env)).toEqual([
      { CUDA_VISIBLE_DEVICES: '-1' },
      { CUDA_VISIBLE_DEVICES: '0', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
      { CUDA_VISIBLE_DEVICES: '1', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
      { CUDA_VISIBLE_DEVICES: '3', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
      { CUDA_VISIBLE_DEVICES: '-1' },
    ]);
  });

  it('5 GPU nodes on 3 GPUs: the first 3 in topological order on a GPU, the other 2 on the CPU', async () => {
    const flow = chain(...[1, 2, 3, 4, 5].map((n) => new Model({ name: `m${n}`, deviceType: 'gpu' })));
    const plan = await buildExecutionPlan(flow.graph, allocator('3'));
    expect(devices(plan)).toEqual({
      source: ['cpu'],
      m1: ['gpu:0'],
      m2: ['gpu:1'],
      m3: ['gpu:2'],
      m4: ['cpu'],
      m5: ['cpu'],
      sink: ['cpu'],
    });
    expect(plan.tasks.find((task) => task.nodeName === 'm5')?.env).toEqual({ CUDA_VISIBLE_DEVICES: '-1' });
    // Allocation works on plain data: the node objects of this process keep their device.
    expect(flow.nodes.find((node) => node.name === 'm5')?.deviceType).toBe('gpu');
  });

  it('places each replica on its own: nbTasks 3 on 2 GPUs → gpu:0, gpu:1, cpu', async () => {
    const plan = await buildExecutionPlan(chain(new Model({ name: 'm', deviceType: 'gpu', nbTasks: 3 })).graph, allocator('2'));
    expect(devices(plan).m).toEqual(['gpu:0', 'gpu:1', 'cpu']);
  });

  it('GPU-only nodes beyond the GPUs: AllocationError NO_GPU naming the node', async () => {
    const flow = chain(...['a', 'b', 'c'].map((name) => new GpuOnlyModel({ name })));
    const error = await buildExecutionPlan(flow.graph, allocator('2')).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(AllocationError);
    expect(isVfError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'NO_GPU', details: { node: 'c', taskIndex: 0, gpus: 2 } });
    expect((error as Error).message).toBe(
      'node "c" runs only on a GPU and needs a whole GPU, but the 2 visible GPU(s) are in use: gpu:0 taken whole; gpu:1 taken whole',
    );
  });

  it('no GPU at all (no nvidia-smi, or CUDA_VISIBLE_DEVICES empty): GPU nodes on the CPU, GPU-only refused', async () => {
    const plan = await buildExecutionPlan(
      chain(new Model({ name: 'm', deviceType: 'gpu', nbTasks: 2 })).graph,
      new GpuAllocator({ env: { PATH: '/nonexistent' } }),
    );
    expect(devices(plan).m).toEqual(['cpu', 'cpu']);
    const error = await buildExecutionPlan(
      chain(new GpuOnlyModel({ name: 'only', nbTasks: 2 })).graph,
      allocator('2', { CUDA_VISIBLE_DEVICES: '' }),
    ).catch((reason: unknown) => reason);
    expect((error as Error).message).toBe(
      'task 0 of 2 of node "only" runs only on a GPU and needs a whole GPU, but no GPU is visible to this process (nvidia-smi and CUDA_VISIBLE_DEVICES)',
    );
  });

  it('GPU-only nodes are placed before GPU nodes that may fall back, even when those come first', async () => {
    const flow = chain(new Model({ name: 'optional', deviceType: 'gpu' }), new GpuOnlyModel({ name: 'required' }));
    expect(devices(await buildExecutionPlan(flow.graph, allocator('1')))).toMatchObject({ optional: ['cpu'], required: ['gpu:0'] });
  });

  it('honours the parent process CUDA_VISIBLE_DEVICES: only the GPUs it names are handed out, by physical id', async () => {
    const flow = chain(new Model({ name: 'm', deviceType: 'gpu', nbTasks: 3 }));
    expect(devices(await buildExecutionPlan(flow.graph, allocator('4', { CUDA_VISIBLE_DEVICES: '3,1' }))).m).toEqual([
      'gpu:3',
      'gpu:1',
      'cpu',
    ]);
  });

  it('takes an injected probe', async () => {
    const probe = () => [{ id: 7, name: 'probe', memoryTotalMb: 100, memoryFreeMb: 100 }];
    const plan = await buildExecutionPlan(chain(new GpuOnlyModel({ name: 'g' })).graph, new GpuAllocator({ probe }));
    expect(devices(plan).g).toEqual(['gpu:7']);
  });
});

describe('GpuAllocator sharing by gpuMemoryMb', () => {
  const shared = (name: string, gpuMemoryMb: number, options: ProcessorOptions = {}) =>
    new Model({ name, deviceType: 'gpu', gpuMemoryMb, ...options });

  it('packs tasks on a GPU while their needs fit its free memory, never over it', async () => {
    // gpu:0 has 10,000 MB free, gpu:1 4,000 MB: 3 + 1 tasks of 3,000 MB fit, the fifth does not.
    const flow = chain(shared('m', 3_000, { nbTasks: 5 }));
    const plan = await buildExecutionPlan(flow.graph, allocator('0:24576:10000,1:8000:4000'));
    expect(plan.nodes.find((node) => node.name === 'm')?.gpuMemoryMb).toBe(3_000);
    expect(devices(plan).m).toEqual(['gpu:0', 'gpu:0', 'gpu:0', 'gpu:1', 'cpu']);
  });

  it('exactly the free memory fits; one MB more does not', async () => {
    expect(devices(await buildExecutionPlan(chain(shared('a', 2_000, { nbTasks: 2 })).graph, allocator('0:8000:4000'))).a).toEqual([
      'gpu:0',
      'gpu:0',
    ]);
    expect(devices(await buildExecutionPlan(chain(shared('a', 2_001, { nbTasks: 2 })).graph, allocator('0:8000:4000'))).a).toEqual([
      'gpu:0',
      'cpu',
    ]);
  });

  it('never mixes whole-GPU and shared tasks on one GPU', async () => {
    const flow = chain(shared('small', 1_000), new Model({ name: 'whole', deviceType: 'gpu' }), shared('small2', 1_000));
    expect(devices(await buildExecutionPlan(flow.graph, allocator('2')))).toMatchObject({
      small: ['gpu:0'],
      whole: ['gpu:1'],
      small2: ['gpu:0'],
    });
    const crowded = chain(new Model({ name: 'whole', deviceType: 'gpu' }), shared('small', 1_000));
    expect(devices(await buildExecutionPlan(crowded.graph, allocator('1')))).toMatchObject({ whole: ['gpu:0'], small: ['cpu'] });
  });

  it('a GPU-only node whose need fits nowhere: AllocationError saying what is free', async () => {
    const flow = chain(new GpuOnlyModel({ name: 'big', gpuMemoryMb: 5_000 }));
    await expect(buildExecutionPlan(flow.graph, allocator('0:8000:4000'))).rejects.toThrow(
      'node "big" runs only on a GPU and needs 5000 MB of GPU memory, but the 1 visible GPU(s) are in use: gpu:0 0 shared task(s), 4000 MB free',
    );
  });
});

describe('gpuOnly', () => {
  it('marks a processor class GPU-only and keeps its name and constructor', () => {
    const node = new GpuOnlyModel({ nbTasks: 2 });
    expect(node.requiresGpu).toBe(true);
    expect(node.deviceType).toBe('gpu');
    expect(node.nbTasks).toBe(2);
    expect(node).toBeInstanceOf(Model);
    expect(GpuOnlyModel.name).toBe('Model');
    expect(new Model().requiresGpu).toBe(false);
  });

  it('refuses changeDevice("cpu") with GPU_REQUIRED, and anything but a ProcessorNode class', () => {
    expect(() => new GpuOnlyModel({ name: 'g' }).changeDevice('cpu')).toThrow(expect.objectContaining({ code: 'GPU_REQUIRED' }));
    expect(() => gpuOnly(IntProducer as unknown as typeof Model)).toThrow(FlowValidationError);
  });
});
