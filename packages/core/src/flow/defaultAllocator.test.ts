import { afterEach, describe, expect, it } from 'vitest';
import { type DeviceAllocator, defaultGpuAllocator, registerDefaultGpuAllocator } from '../contracts/deviceAllocator.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { IntProducer } from '../library/intProducer.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { ProcessorNode, type ProcessorOptions } from '../nodes/processorNode.js';
import { captureLogs } from '../testing/captureLogs.js';
import { Flow } from './flow.js';

class Identity extends ProcessorNode<[number], number> {
  process(value: number) {
    return value;
  }
}

class Sink extends ConsumerNode<[number]> {
  consume(): void {}
}

/** numbers → one Identity per entry of `options` → sink. */
function flowWith(...options: ProcessorOptions[]): Flow {
  const numbers = new IntProducer(0, 3, { name: 'numbers' });
  let last: ProcessorNode<[number], number> | IntProducer = numbers;
  for (const option of options) last = new Identity(option).from(last);
  return new Flow([numbers], [new Sink({ name: 'sink' }).from(last)]);
}

/** The `VF_GPU_ON_CPU` warnings logged while `action` runs. */
async function gpuWarnings(action: () => Promise<void>): Promise<string[]> {
  const logs = captureLogs('warn');
  try {
    await action();
  } finally {
    logs.stop();
  }
  return logs.records.filter((record) => record.code === 'VF_GPU_ON_CPU').map((record) => record.msg);
}

/** Places every task of a GPU node on `gpu:<n>` while it has GPUs, counting its calls. */
function fakeGpuAllocator(gpus: number) {
  const calls: string[][] = [];
  const allocator: DeviceAllocator = {
    allocate(nodes) {
      calls.push(nodes.map((node) => node.name));
      let free = gpus;
      return nodes.map((node) =>
        Array.from({ length: node.nbTasks }, () =>
          node.deviceType === 'gpu' && free > 0
            ? { device: `gpu:${gpus - free--}` as const, env: {} }
            : { device: 'cpu' as const, env: {} },
        ),
      );
    },
  };
  return { allocator, calls };
}

async function run(flow: Flow, allocator?: DeviceAllocator) {
  await flow.run(new InProcessEngine(), allocator === undefined ? {} : { deviceAllocator: allocator });
  const report = await flow.join();
  expect(report.status).toBe('completed');
  return report;
}

describe('flow.run() without a deviceAllocator', () => {
  let unregister: (() => void) | undefined;
  afterEach(() => {
    unregister?.();
    unregister = undefined;
  });

  it('GPU nodes and no GPU allocator registered: they run on the CPU with one warning naming them and the fix', async () => {
    const flow = flowWith({ name: 'detect', deviceType: 'gpu', nbTasks: 2 }, { name: 'plain' }, { name: 'embed', deviceType: 'gpu' });
    let report: Awaited<ReturnType<typeof run>> | undefined;
    const warnings = await gpuWarnings(async () => {
      report = await run(flow);
    });
    expect(report?.nodes.find((node) => node.name === 'detect')?.device).toEqual(['cpu', 'cpu']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('nodes "detect", "embed" ask for a GPU');
    expect(warnings[0]).not.toContain('"plain"');
    expect(warnings[0]).toContain('new GpuAllocator()');
    expect(warnings[0]).toContain("import '@vf/gpu'");
    // The same situation again in this process is not repeated.
    const again = await gpuWarnings(async () => {
      await run(flowWith({ name: 'detect', deviceType: 'gpu', nbTasks: 2 }, { name: 'plain' }, { name: 'embed', deviceType: 'gpu' }));
    });
    expect(again).toEqual([]);
  });

  it('GPU nodes and a registered GPU allocator (what importing @vf/gpu does): it places them', async () => {
    const fake = fakeGpuAllocator(2);
    unregister = registerDefaultGpuAllocator(fake.allocator);
    let report: Awaited<ReturnType<typeof run>> | undefined;
    const warnings = await gpuWarnings(async () => {
      report = await run(flowWith({ name: 'detect', deviceType: 'gpu', nbTasks: 2 }));
    });
    expect(report?.nodes.find((node) => node.name === 'detect')?.device).toEqual(['gpu:0', 'gpu:1']);
    expect(fake.calls).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  it('a registered GPU allocator that runs out of GPUs: the tasks left on the CPU are named in a warning', async () => {
    unregister = registerDefaultGpuAllocator(fakeGpuAllocator(1).allocator);
    let report: Awaited<ReturnType<typeof run>> | undefined;
    const warnings = await gpuWarnings(async () => {
      report = await run(flowWith({ name: 'tracker', deviceType: 'gpu', nbTasks: 3 }));
    });
    expect(report?.nodes.find((node) => node.name === 'tracker')?.device).toEqual(['gpu:0', 'cpu', 'cpu']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('node "tracker" asks for a GPU, but 2 of its 3 tasks run on the CPU');
  });

  it('a CPU-only flow never calls the registered GPU allocator (no GPU probe)', async () => {
    const fake = fakeGpuAllocator(2);
    unregister = registerDefaultGpuAllocator(fake.allocator);
    const report = await run(flowWith({ name: 'plain' }));
    expect(report.nodes.find((node) => node.name === 'plain')?.device).toEqual(['cpu']);
    expect(fake.calls).toEqual([]);
  });

  it('an explicit deviceAllocator wins over the registered one; a GPU task it leaves on the CPU is named in a warning too', async () => {
    const registered = fakeGpuAllocator(2);
    unregister = registerDefaultGpuAllocator(registered.allocator);
    const explicit = fakeGpuAllocator(0);
    const warnings = await gpuWarnings(async () => {
      const report = await run(flowWith({ name: 'detect', deviceType: 'gpu' }), explicit.allocator);
      expect(report.nodes.find((node) => node.name === 'detect')?.device).toEqual(['cpu']);
    });
    expect(registered.calls).toEqual([]);
    expect(explicit.calls).toHaveLength(1);
    // The contract: never placed on the CPU silently, also with new GpuAllocator() given to run().
    expect(warnings).toEqual([
      expect.stringContaining(
        'node "detect" asks for a GPU, but its task runs on the CPU: the deviceAllocator given to flow.run() found no free GPU',
      ),
    ]);
  });

  it('the latest registration is the default; removing it restores the one before', () => {
    const before = defaultGpuAllocator();
    const first = fakeGpuAllocator(1).allocator;
    const second = fakeGpuAllocator(2).allocator;
    const undoFirst = registerDefaultGpuAllocator(first);
    const undoSecond = registerDefaultGpuAllocator(second);
    expect(defaultGpuAllocator()).toBe(second);
    undoSecond();
    expect(defaultGpuAllocator()).toBe(first);
    undoFirst();
    expect(defaultGpuAllocator()).toBe(before);
  });
});
