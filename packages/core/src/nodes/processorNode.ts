import { AllocationError } from '../errors.js';
import { emitWarningOnce } from '../warnings.js';
import { type ErrorPolicy, type OnError, resolveOnError } from './errorPolicy.js';
import { type TimeJoinOptions, validateJoinOptions } from './joinOptions.js';
import {
  checkNodeOptions,
  type DeviceType,
  Node,
  type NodeOptions,
  validateDeviceType,
  validateGpuMemoryMb,
  validateNbTasks,
} from './node.js';

/** Options of a {@link ProcessorNode}. */
export interface ProcessorOptions extends NodeOptions {
  /** Run as this many parallel tasks (processes). Default 1. Ignored by one-task processors. */
  readonly nbTasks?: number;
  /** Preferred device. Default `'cpu'`. A GPU is a request, not a guarantee (see `@vf/gpu`). */
  readonly deviceType?: DeviceType;
  /**
   * GPU memory one task needs, in MB. Set, a GPU task may share its GPU with other tasks as long as
   * their needs fit in the GPU's free memory; unset, each GPU task takes a whole GPU (see `@vf/gpu`).
   */
  readonly gpuMemoryMb?: number;
  /** What a throwing `process()` does to the flow. Default `'fail'`. See {@link OnError}. */
  readonly onError?: OnError;
  /** Group the parents by event time instead of by origin (see {@link TimeJoinOptions}); needs `nbTasks: 1`. */
  readonly join?: TimeJoinOptions;
}

/**
 * A function of its parents' outputs: one positional input per parent, in wiring order.
 *
 * @example
 * ```ts
 * class Add extends ProcessorNode<[number, number], number> {
 *   process(a: number, b: number) { return a + b; }
 * }
 * ```
 */
export abstract class ProcessorNode<TIn extends unknown[] = unknown[], TOut = unknown> extends Node {
  readonly kind = 'processor' as const;
  #nbTasks: number;
  #deviceType: DeviceType;
  readonly #gpuMemoryMb: number | undefined;
  /** @internal The resolved `onError` option, applied by the task runtime. */
  readonly errorPolicy: ErrorPolicy;
  /** @internal Carries the input and output types for inference. */
  declare readonly __io?: (...inputs: TIn) => TOut;

  constructor(options: ProcessorOptions = {}) {
    super(options);
    const label = `processor "${options.name ?? new.target.name}"`;
    this.#nbTasks = validateNbTasks(options.nbTasks, label);
    this.#deviceType = validateDeviceType(options.deviceType, label);
    this.#gpuMemoryMb = validateGpuMemoryMb(options.gpuMemoryMb, label);
    this.errorPolicy = resolveOnError(options.onError, label);
    this.setTimeJoin(validateJoinOptions(options.join, options.name ?? new.target.name, this.#nbTasks));
  }

  override get nbTasks(): number {
    return this.#nbTasks;
  }

  override get deviceType(): DeviceType {
    return this.#deviceType;
  }

  override get gpuMemoryMb(): number | undefined {
    return this.#gpuMemoryMb;
  }

  /**
   * Switches the preferred device. The allocator calls it with `'cpu'` when no GPU is left;
   * a GPU-only node refuses with an {@link AllocationError}.
   */
  changeDevice(type: DeviceType): void {
    const device = validateDeviceType(type, `processor "${this.name}"`);
    if (device === 'cpu' && this.requiresGpu) {
      throw new AllocationError('GPU_REQUIRED', `processor "${this.name}" runs only on a GPU and cannot change to the CPU`, {
        details: { node: this.name },
      });
    }
    this.#deviceType = device;
  }

  /** @internal Lets one-task processors pin their task count. */
  protected pinTaskCount(count: number): void {
    this.#nbTasks = count;
  }

  /** Computes the output for one aligned set of inputs. */
  abstract process(...inputs: TIn): TOut | Promise<TOut>;
}

/**
 * A stateful processor: it always runs as exactly one task, so state carried between items is
 * correct. An `nbTasks` passed to it is ignored with a warning (`VF_NBTASKS_IGNORED`).
 */
export abstract class OneTaskProcessorNode<TIn extends unknown[] = unknown[], TOut = unknown> extends ProcessorNode<TIn, TOut> {
  constructor(options: ProcessorOptions = {}) {
    checkNodeOptions(options, new.target.name);
    super({ ...options, nbTasks: validateNbTasks(options.nbTasks, `processor "${options.name ?? new.target.name}"`) });
    if (options.nbTasks !== undefined && options.nbTasks !== 1) {
      emitWarningOnce(`processor "${options.name ?? new.target.name}" is a one-task processor: nbTasks ${options.nbTasks} is ignored`, {
        code: 'VF_NBTASKS_IGNORED',
      });
    }
    this.pinTaskCount(1);
  }
}
