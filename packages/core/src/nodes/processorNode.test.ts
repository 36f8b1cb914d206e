import { afterEach, describe, expect, it } from 'vitest';
import { AllocationError, FlowValidationError, isVfError } from '../errors.js';
import { captureLogs } from '../testing/captureLogs.js';
import type { DeviceType } from './node.js';
import { OneTaskProcessorNode, ProcessorNode, type ProcessorOptions } from './processorNode.js';

class Double extends ProcessorNode<[number], number> {
  process(value: number) {
    return value * 2;
  }
}

class Counter extends OneTaskProcessorNode<[number], number> {
  #count = 0;

  process() {
    this.#count += 1;
    return this.#count;
  }
}

class GpuOnly extends ProcessorNode<[number], number> {
  override get requiresGpu(): boolean {
    return true;
  }

  process(value: number) {
    return value;
  }
}

/** Collects the warnings vf logs until `stop()`. */
function captureWarnings() {
  const logs = captureLogs('warn');
  return {
    get warnings() {
      return logs.records.map((record) => ({ code: record.code, message: record.msg }));
    },
    stop: logs.stop,
    // Logged at once; kept so that the tests read the same whichever way warnings travel.
    settle: () => Promise.resolve(),
  };
}

describe('ProcessorNode options', () => {
  it('defaults to one CPU task', () => {
    const node = new Double();
    expect(node.kind).toBe('processor');
    expect(node.nbTasks).toBe(1);
    expect(node.deviceType).toBe('cpu');
    expect(node.requiresGpu).toBe(false);
  });

  it('keeps nbTasks and deviceType', () => {
    const node = new Double({ nbTasks: 4, deviceType: 'gpu' });
    expect(node.nbTasks).toBe(4);
    expect(node.deviceType).toBe('gpu');
  });

  it('keeps gpuMemoryMb (undefined by default) and rejects a non-positive one', () => {
    expect(new Double().gpuMemoryMb).toBeUndefined();
    expect(new Double({ deviceType: 'gpu', gpuMemoryMb: 1500 }).gpuMemoryMb).toBe(1500);
    for (const gpuMemoryMb of [0, -1, Number.NaN, '2000' as unknown as number]) {
      expect(() => new Double({ name: 'model', gpuMemoryMb })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('"model"') }),
      );
    }
  });
});

describe('OneTaskProcessorNode', () => {
  let capture: ReturnType<typeof captureWarnings> | undefined;
  afterEach(() => {
    capture?.stop();
    capture = undefined;
  });

  it('ignores nbTasks: 4 with a VF_NBTASKS_IGNORED warning naming the node', async () => {
    capture = captureWarnings();
    const node = new Counter({ name: 'counter', nbTasks: 4 });
    expect(node.nbTasks).toBe(1);
    await capture.settle();
    const ours = capture.warnings.filter((warning) => warning.code === 'VF_NBTASKS_IGNORED');
    expect(ours).toHaveLength(1);
    expect(ours[0]?.message).toContain('"counter"');
    expect(ours[0]?.message).toContain('4');
  });

  it('emits no warning when nbTasks is left out or is 1', async () => {
    capture = captureWarnings();
    expect(new Counter().nbTasks).toBe(1);
    expect(new Counter({ nbTasks: 1 }).nbTasks).toBe(1);
    await capture.settle();
    expect(capture.warnings.filter((warning) => warning.code === 'VF_NBTASKS_IGNORED')).toEqual([]);
  });

  it('still rejects an invalid nbTasks', () => {
    const options = { name: 'counter', nbTasks: 'x' } as unknown as ProcessorOptions;
    expect(() => new Counter(options)).toThrow(FlowValidationError);
    expect(() => new Counter({ nbTasks: 0 })).toThrow(/nbTasks/);
  });

  it('is a processor whose state carries between items', () => {
    const node = new Counter();
    expect(node).toBeInstanceOf(ProcessorNode);
    expect([node.process(), node.process(), node.process()]).toEqual([1, 2, 3]);
  });
});

describe('ProcessorNode.changeDevice', () => {
  it("switches to 'gpu' and back to 'cpu'", () => {
    const node = new Double();
    node.changeDevice('gpu');
    expect(node.deviceType).toBe('gpu');
    node.changeDevice('cpu');
    expect(node.deviceType).toBe('cpu');
  });

  it('rejects an unknown device type and keeps the current one', () => {
    const node = new Double({ name: 'double', deviceType: 'gpu' });
    let caught: unknown;
    try {
      node.changeDevice('tpu' as DeviceType);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlowValidationError);
    expect((caught as FlowValidationError).code).toBe('INVALID_OPTION');
    expect(node.deviceType).toBe('gpu');
  });

  it("a GPU-only node refuses 'cpu' with AllocationError GPU_REQUIRED", () => {
    const node = new GpuOnly({ name: 'detector', deviceType: 'gpu' });
    let caught: unknown;
    try {
      node.changeDevice('cpu');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AllocationError);
    expect(isVfError(caught)).toBe(true);
    expect((caught as AllocationError).code).toBe('GPU_REQUIRED');
    expect((caught as AllocationError).message).toContain('"detector"');
    expect(node.deviceType).toBe('gpu');
    // Asking for the GPU is still fine.
    node.changeDevice('gpu');
    expect(node.deviceType).toBe('gpu');
  });
});
