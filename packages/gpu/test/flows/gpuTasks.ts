import { appendFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow, ProcessorNode, type ProcessorOptions } from '@vf/core';
import { IntProducer } from '@vf/core/nodes';
import { detectGpus, gpuOnly } from '../../src/index.js';

/** What a task saw of its device, appended as one JSON line by open(). */
export interface TaskView {
  readonly node: string;
  readonly pid: number;
  readonly cudaVisibleDevices: string | undefined;
  readonly cudaDeviceOrder: string | undefined;
  /** The node object's device in this task (changeDevice('cpu') ran if it was placed on the CPU). */
  readonly deviceType: string;
  /** What detectGpus() finds inside the task. */
  readonly visibleGpus: number[];
}

async function record(out: string, node: { name: string; deviceType: string }): Promise<void> {
  const view: TaskView = {
    node: node.name,
    pid: process.pid,
    cudaVisibleDevices: process.env.CUDA_VISIBLE_DEVICES,
    cudaDeviceOrder: process.env.CUDA_DEVICE_ORDER,
    deviceType: node.deviceType,
    visibleGpus: (await detectGpus()).map((gpu) => gpu.id),
  };
  appendFileSync(out, `${JSON.stringify(view)}\n`);
}

/** Records its task's view of the device on open, then passes items through. */
export class DeviceProbe extends ProcessorNode<[number], number> {
  constructor(
    private readonly out: string,
    options: ProcessorOptions,
  ) {
    super(options);
  }

  override open(): Promise<void> {
    return record(this.out, this);
  }

  process(value: number): number {
    return value;
  }
}

class ProbeSink extends ConsumerNode<[number]> {
  constructor(private readonly out: string) {
    super({ name: 'sink' });
  }

  override open(): Promise<void> {
    return record(this.out, this);
  }

  consume(): void {}
}

const GpuOnlyProbe = gpuOnly(DeviceProbe);

/**
 * numbers → probe (deviceType 'gpu', `nbTasks` replicas) → `gpuOnly` GPU-only probes in a chain → sink.
 * Every task appends its view of the device to `out`.
 */
export default defineFlow((params: { out: string; nbTasks: number; gpuOnly?: number }) => {
  const numbers = new IntProducer(0, 30, { name: 'numbers' });
  let last: ProcessorNode<[number], number> = new DeviceProbe(params.out, {
    name: 'probe',
    deviceType: 'gpu',
    nbTasks: params.nbTasks,
  }).from(numbers);
  for (let index = 0; index < (params.gpuOnly ?? 0); index++) last = new GpuOnlyProbe(params.out, { name: `only${index}` }).from(last);
  return new Flow([numbers], [new ProbeSink(params.out).from(last)]);
});
