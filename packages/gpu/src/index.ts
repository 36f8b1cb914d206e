/**
 * `@vf/gpu`: GPU discovery (`detectGpus`), per-task GPU allocation in `flow.run()`
 * (`GpuAllocator`, `gpuOnly`), TensorFlow.js backend selection inside a task (`loadTensorflow`),
 * and an example GPU node (`EdgeDetector`).
 * Importing it registers a `GpuAllocator` as core's default GPU allocator: `flow.run()` without a
 * `deviceAllocator` then gives GPUs to nodes that ask for one.
 * @packageDocumentation
 */
import { registerDefaultGpuAllocator } from '@vf/core/engine';
import { GpuAllocator } from './gpuAllocator.js';

export { type DetectGpusOptions, detectGpus, type GpuInfo, NVIDIA_SMI_ARGS, parseNvidiaSmi, visibleGpus } from './detectGpus.js';
export { EdgeDetector, type EdgeDetectorOptions, type RgbFrame } from './edgeDetector.js';
export { CPU_TASK_ENV, GpuAllocator, type GpuAllocatorOptions, gpuOnly, gpuTaskEnv } from './gpuAllocator.js';
export {
  isGpuTask,
  type LoadedTensorflow,
  type LoadTensorflowOptions,
  loadTensorflow,
  type Tensorflow,
  type TensorflowLoader,
  type TensorflowPackage,
} from './tensorflow.js';

// The one side effect of this package (see `sideEffects` in package.json): core cannot import
// @vf/gpu, so @vf/gpu tells core where its allocator is.
registerDefaultGpuAllocator(new GpuAllocator());
