import type { ExecutionEngine } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { GpuAllocator } from '@vf/gpu';
import { defaultExecutable, type FlowBudget, FlowProject, type FlowProjectOptions, type Job, type Output, post, pre } from '@vf/groups';
import { detectFlowTasks } from '../../flows/detect.js';
import { appPath } from '../appPaths.js';
import { JOB_FILES, jobDetectorTasks } from './videoJobs.js';
import { detectOperation, summarizeOperation, trackOperation } from './videoOperations.js';

/** The group that runs `detect` then `track` on a job, in one go (and in one cluster job when submitted). */
export const ANALYZE_GROUP = 'analyze';

/** The program scheduler scripts and forked operations run: the project rooted at their working directory. */
export const PROJECT_SCRIPT = appPath('src/project/projectScript.ts');

/** Options of {@link createVideoProject}. */
export interface VideoProjectOptions {
  /** The project folder: jobs go to `<root>/workspace`, generated samples to `<root>/videos`. */
  readonly root: string;
  /** Where the operations' progress lines and the CLI's output go (default: the process's). */
  readonly stdout?: Output;
  readonly stderr?: Output;
  /** Engine of the detection flow (default: the batch engine, one OS process per task). */
  readonly flowEngine?: (budget: FlowBudget) => ExecutionEngine;
  /** The scheduler for `submit` and `status` (default: detected, see `@vf/groups`). */
  readonly scheduler?: FlowProjectOptions['scheduler'];
}

/**
 * The demo as a signac-flow style project: one job per video and parameter set (state point
 * `{ source, threshold, minArea, maxAge, minHits, iouThreshold }`, see `videoJobs.ts`), and
 *
 * | operation   | needs              | makes                                 | directives (alone)              |
 * | ----------- | ------------------ | ------------------------------------- | ------------------------------- |
 * | `detect`    | the video          | `detections.jsonl`, doc `detect`      | `ngpu: 1`, `np`: the flow's tasks |
 * | `track`     | `detect` complete  | `tracks.jsonl`, doc `track`           | `walltime: 0.25`                |
 * | `summarize` | `track` complete   | `summary.json`, doc `summary`         | —                               |
 *
 * and the group `analyze` = detect + track with its own directives. `detect` runs a vf flow within
 * its group's budget: at most `np` task processes, and the allocator (`@vf/gpu`'s, restricted to
 * the budget's GPUs) places the detector on a GPU when one is visible, else on the CPU.
 *
 * @example
 * ```ts
 * const project = createVideoProject({ root: 'vf-demo-project' });
 * await addVideoJobs(project, { samples: 2 });
 * await project.main(['run', '-o', 'analyze']);
 * ```
 */
export function createVideoProject(options: VideoProjectOptions): FlowProject {
  const stdout = options.stdout ?? process.stdout;
  const log = (line: string) => stdout.write(`${line}\n`);
  const project = new FlowProject({
    root: options.root,
    script: PROJECT_SCRIPT,
    executable: projectExecutable(),
    flowEngine: options.flowEngine ?? (() => new BatchExecutionEngine({ queueSize: 4 })),
    // Restricted to the budget's GPUs (none when ngpu is 0); without nvidia-smi it finds none and
    // the detector, which prefers a GPU but does not require one, runs on the CPU.
    deviceAllocator: (budget) => new GpuAllocator({ env: { ...process.env, CUDA_VISIBLE_DEVICES: budget.cudaVisibleDevices } }),
    stdout,
    ...(options.stderr === undefined ? {} : { stderr: options.stderr }),
    ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
  });

  const analyze = project.makeGroup(ANALYZE_GROUP);
  // The detection flow's task processes (reader, detector replicas, writer) must fit in np.
  const detectTasks = (job: Job) => detectFlowTasks(jobDetectorTasks(job));
  project.operation('detect', detectOperation(project.root, log), {
    directives: { ngpu: 1, np: detectTasks, walltime: 0.5 },
    post: [post.isFile(JOB_FILES.detections)],
    // In one cluster job with track: memory for the flow's processes (each decodes frames and
    // holds TensorFlow.js) and more time, since a job killed at its limit loses the track step too.
    groups: [analyze.with({ directives: { ngpu: 1, np: detectTasks, memory: '4g', walltime: 0.75 } })],
  });
  project.operation('track', trackOperation(log), {
    directives: { walltime: 0.25 },
    pre: [pre.after('detect')],
    post: [post.isFile(JOB_FILES.tracks)],
    groups: [analyze.with({ directives: { memory: '2g', walltime: 0.25 } })],
  });
  project.operation('summarize', summarizeOperation(log), {
    pre: [pre.after('track')],
    post: [post.hasKey('summary')],
  });
  return project;
}

/**
 * The command that runs {@link PROJECT_SCRIPT} (the `executable` directive's default): this
 * Node.js with its flags, plus the `tsx` loader when they lack one, since the script is
 * TypeScript (a bundled `vf-demo` runs without a loader).
 */
export function projectExecutable(execArgv: readonly string[] = process.execArgv): string {
  const flags = execArgv.some((flag) => flag.includes('tsx')) ? [...execArgv] : [...execArgv, '--import', 'tsx'];
  // `tsx` is resolved from the app's folder, where it is installed, not from the caller's.
  return defaultExecutable(flags, appPath('.'));
}
