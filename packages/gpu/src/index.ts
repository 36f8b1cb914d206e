/**
 * `@vf/gpu`: GPU discovery (`detectGpus`), per-task GPU allocation in `flow.run()`
 * (`GpuAllocator`, `gpuOnly`), TensorFlow.js backend selection inside a task (`loadTensorflow`),
 * and an example GPU node (`EdgeDetector`).
 * @packageDocumentation
 */
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
