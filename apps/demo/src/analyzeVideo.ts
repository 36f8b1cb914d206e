import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ExecutionEngine, Flow, type FlowReport, InProcessEngine, isVfError } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { RealtimeExecutionEngine } from '@vf/engine-realtime';
import { detectGpus, GpuAllocator } from '@vf/gpu';
import type { TrackCounts } from '@vf/vision';
import { probeVideo, realFootage, type VideoInfo } from '@vf/vision';
import type { AnalyzeParams, DetectorName } from '../flows/analyze.js';
import { flowModuleUrl } from './appPaths.js';
import { generateSampleVideo, type SampleVideoOptions } from './video/sampleVideo.js';

/** The engines the demo can run on. */
export const ENGINES = ['batch', 'realtime', 'inprocess'] as const;
export type EngineName = (typeof ENGINES)[number];

/** The real clip the demo analyses by default: Debian opencv-doc's people walking in a mall (768×576, 10 fps, 79 s). */
export const DEFAULT_CLIP = 'vtest.avi';

/**
 * Seconds of {@link DEFAULT_CLIP} the demo analyses unless told otherwise (`maxSeconds`,
 * `--max-seconds`): 200 frames keep `pnpm demo` within about two minutes on an idle 2-core machine,
 * footage download included.
 */
export const DEFAULT_CLIP_SECONDS = 20;

/** What observers of a job (progress display, live view) learn when its flow starts. */
export interface JobInfo {
  readonly input: string;
  readonly video: VideoInfo;
  /** Frames the flow reads: the whole video, or the first `maxSeconds` of it. */
  readonly frames: number;
  readonly engine: EngineName;
  /** Name of the node that writes the annotated video. */
  readonly writerNode: string;
  /** The JPEG the flow keeps replacing with the latest annotated frame, when asked for (`preview`). */
  readonly previewFile?: string;
}

/** Watches a job's flow while it runs: started once the tasks run, stopped with the report. */
export interface FlowObserver {
  start(flow: Flow, job: JobInfo): void;
  stop(report: FlowReport): void;
}

/** Options of {@link analyzeVideo}. */
export interface AnalyzeVideoOptions {
  /**
   * The video to analyse. Default: {@link DEFAULT_CLIP} (fetched once with apt, see `realFootage()` in
   * `@vf/vision`), or a sample video generated into `outputDir` when `generateSample` is set or the
   * clip cannot be had (a log line says why).
   */
  readonly input?: string;
  /** Without `input`: analyse a generated sample video (moving shapes, see `sample`) instead of the real clip. Default false. */
  readonly generateSample?: boolean;
  /**
   * `coco`: the pretrained COCO detector (labelled classes); `motion`: background subtraction.
   * Default `coco`, except on a generated sample: `motion` (COCO finds nothing on drawn shapes).
   */
  readonly detector?: DetectorName;
  /**
   * Analyse only the first `maxSeconds` of the input; 0 for all of it. Default: {@link
   * DEFAULT_CLIP_SECONDS} of the default clip, all of an `input` or a generated sample.
   */
  readonly maxSeconds?: number;
  /** Where the annotated video, the counts and the summary go (created if needed). */
  readonly outputDir: string;
  /** Default `batch`. */
  readonly engine?: EngineName;
  /** Replicas of the detector. Default 2. */
  readonly detectorTasks?: number;
  /** Queue size of the engine. Default 4. */
  readonly queueSize?: number;
  /** Play the input at its frame rate like a camera. Default: true with the realtime engine. */
  readonly camera?: boolean;
  /** The generated sample video (when there is no `input`). */
  readonly sample?: SampleVideoOptions;
  readonly observers?: readonly FlowObserver[];
  /** Progress messages (not the progress bar). Default: none. */
  readonly log?: (line: string) => void;
  /**
   * Stops the job when aborted (the CLI's Ctrl-C): the flow ends its stream, every node's `close()`
   * runs, so the annotated video and the counts hold what was processed, and the summary says
   * `status: 'stopped'`. Aborted before the flow starts, the flow stops at once.
   */
  readonly signal?: AbortSignal;
  /**
   * Keep `preview.jpg` in `outputDir` the latest annotated frame, twice a second (for the live view):
   * the flow gains a `preview` node beside the writer. Default false.
   */
  readonly preview?: boolean;
}

/** One node in the {@link DemoSummary}: the bottleneck-table row in short. */
export interface NodeSummary {
  readonly name: string;
  readonly tasks: number;
  /** What each task really ran on: its device and the TensorFlow.js backend, e.g. `gpu:0 (wasm)` (`NodeReport.deviceLabel`). */
  readonly device: readonly string[];
  readonly processed: number;
  readonly dropped: number;
  readonly meanMs: number;
  readonly possibleFps: number;
  readonly actualFps: number;
  readonly bottleneck: boolean;
}

/** What the job writes to `summary.json` and returns. */
export interface DemoSummary {
  readonly status: FlowReport['status'];
  readonly error?: string;
  readonly engine: EngineName;
  readonly input: string;
  readonly generatedInput: boolean;
  /** The detector that ran (`coco` or `motion`). */
  readonly detector: DetectorName;
  /** Frames the flow was asked to read: fewer than `video.frames` when `maxSeconds` cut the input. */
  readonly maxFrames?: number;
  readonly output: string;
  readonly video: VideoInfo;
  /** Frames that reached the counter (all of them in batch; realtime drops some). */
  readonly frames: number;
  /** Detections over all frames. */
  readonly detections: number;
  /** Most objects on screen at once. */
  readonly objects: number;
  /** Distinct confirmed tracks: the objects counted over the video. */
  readonly tracks: number;
  /** Per track: id, frames seen, first and last frame (and its class, when the counter labels tracks). */
  readonly trackSpans: TrackCounts['spans'];
  /** Per class (label), when the flow's counter reports classes: e.g. `{ person: { tracks, detections, maxInFrame } }`. */
  readonly classes?: Readonly<Record<string, unknown>>;
  /** The TensorFlow.js backends the detector's tasks ran on, as the counter saw them (e.g. `tensorflow.js wasm (@tensorflow/tfjs)`). */
  readonly backends?: readonly string[];
  /** The counter's report (`counts.json`) as it wrote it, whatever else it counts. */
  readonly counts?: CounterReport;
  /** The flow's run time, from `flow.run()` to the last task's exit. */
  readonly flowMs: number;
  /** The whole job: sample generation, probing, the flow, the summary. */
  readonly wallMs: number;
  readonly nodes: readonly NodeSummary[];
}

/** The module of the analysis flow, rebuilt by every task process (the source, or the built one in dist). */
export const ANALYZE_FLOW = flowModuleUrl('analyze');

/**
 * The demo's main job: (generate a sample video,) run the analysis flow (video → detector ×N →
 * tracker → annotator → writer, + counter) on the chosen engine, and write `annotated.mp4`,
 * `counts.json` and `summary.json` into `outputDir`. Resolves with the summary whatever the flow's
 * status; rejects only when the flow cannot start (e.g. `VideoError` for a missing input).
 */
export async function analyzeVideo(options: AnalyzeVideoOptions): Promise<{ summary: DemoSummary; report: FlowReport }> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const engineName = options.engine ?? 'batch';
  const outputDir = resolve(options.outputDir);
  mkdirSync(outputDir, { recursive: true });

  const { input, kind } = await chooseInput(options, outputDir, log);
  const video = await probeVideo(input);
  const detector = options.detector ?? (kind === 'sample' ? 'motion' : 'coco');
  const maxFrames = framesToRead(video, options.maxSeconds ?? (kind === 'clip' ? DEFAULT_CLIP_SECONDS : 0));
  // Probed once: the detector asks for a GPU only where one is visible (else a GPU node on the CPU
  // draws VF_GPU_ON_CPU, which on a machine without GPUs says nothing new), and the allocator
  // places it on those same GPUs.
  const gpus = await detectGpus();
  const params: AnalyzeParams = {
    input,
    output: join(outputDir, 'annotated.mp4'),
    counts: join(outputDir, 'counts.json'),
    fps: video.fps,
    detectorTasks: options.detectorTasks ?? 2,
    camera: options.camera ?? engineName === 'realtime',
    detector,
    detectorDevice: gpus.length > 0 ? 'gpu' : 'cpu',
    ...(maxFrames === undefined ? {} : { maxFrames }),
    ...(options.preview === true ? { preview: join(outputDir, 'preview.jpg') } : {}),
  };
  if (maxFrames !== undefined) log(`analysing the first ${maxFrames} of ${video.frames} frames (${(maxFrames / video.fps).toFixed(1)} s)`);
  // A counts file left by an earlier run must not pass for this run's.
  rmSync(params.counts, { force: true });
  if (params.preview !== undefined) rmSync(params.preview, { force: true });
  const flow = await Flow.load(ANALYZE_FLOW, params);
  const engine = createEngine(engineName, options.queueSize ?? 4);
  log(
    `running on the ${engineName} engine: ${flow.nodes.map((node) => `${node.name}${node.nbTasks > 1 ? ` ×${node.nbTasks}` : ''}`).join(', ')}`,
  );

  // The caller's signal stops the flow, rather than vf's own SIGINT handler: the application decides.
  const stop = () => flow.stop();
  if (options.signal?.aborted === true) stop();
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    await flow.run(engine, { deviceAllocator: new GpuAllocator({ probe: () => gpus }), handleSigint: options.signal === undefined });
  } catch (error) {
    options.signal?.removeEventListener('abort', stop);
    throw error;
  }
  const job: JobInfo = {
    input,
    video,
    frames: maxFrames ?? video.frames,
    engine: engineName,
    writerNode: 'writer',
    ...(params.preview === undefined ? {} : { previewFile: params.preview }),
  };
  const observers = options.observers ?? [];
  for (const observer of observers) observer.start(flow, job);
  const report = await flow.join();
  options.signal?.removeEventListener('abort', stop);
  for (const observer of observers) observer.stop(report);

  const counts = readCounts(params.counts);
  const summary: DemoSummary = {
    status: report.status,
    ...(report.error === undefined ? {} : { error: report.error.message }),
    engine: engineName,
    input,
    generatedInput: kind === 'sample',
    detector,
    ...(maxFrames === undefined ? {} : { maxFrames }),
    output: params.output,
    video,
    ...summarizeCounts(counts),
    flowMs: Math.round(report.durationMs),
    wallMs: Math.round(performance.now() - started),
    nodes: summarizeNodes(report),
  };
  writeFileSync(join(outputDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return { summary, report };
}

/** The report's bottleneck table as {@link NodeSummary} rows (JSON, rounded to 0.01). */
export function summarizeNodes(report: FlowReport): NodeSummary[] {
  return report.nodes.map((node) => ({
    name: node.name,
    tasks: node.tasks,
    device: node.deviceLabel,
    processed: node.kind === 'producer' ? node.emitted : node.received,
    dropped: node.dropped,
    meanMs: round(node.meanProctimeMs),
    possibleFps: round(node.possibleFps),
    actualFps: round(node.actualFps),
    bottleneck: node.bottleneck,
  }));
}

function createEngine(name: EngineName, queueSize: number): ExecutionEngine {
  switch (name) {
    case 'batch':
      return new BatchExecutionEngine({ queueSize });
    case 'realtime':
      return new RealtimeExecutionEngine({ queueSize });
    case 'inprocess':
      return new InProcessEngine({ queueSize });
  }
}

/**
 * What the flow's counter wrote (`counts.json`): the {@link TrackCounts} fields the summary lifts,
 * and whatever else a counter reports (classes, backends, ...), passed through as it is.
 */
export type CounterReport = Partial<TrackCounts> & {
  readonly classes?: Readonly<Record<string, unknown>>;
  readonly [key: string]: unknown;
};

/** The summary's counts from the counter's report: the headline numbers, per track, per class, and the report itself. */
export function summarizeCounts(
  counts: CounterReport | undefined,
): Pick<DemoSummary, 'frames' | 'detections' | 'objects' | 'tracks' | 'trackSpans' | 'classes' | 'backends' | 'counts'> {
  return {
    frames: counts?.frames ?? 0,
    detections: counts?.detections ?? 0,
    objects: counts?.maxObjectsInFrame ?? 0,
    tracks: counts?.tracks ?? 0,
    trackSpans: counts?.spans ?? [],
    ...(counts?.classes === undefined ? {} : { classes: counts.classes }),
    ...(counts?.backends === undefined ? {} : { backends: counts.backends }),
    ...(counts === undefined ? {} : { counts }),
  };
}

/**
 * The video to analyse: the user's `input`, else the real clip, else (asked for, or the clip cannot
 * be had) a generated sample. `kind` says which: it picks the default detector and slice.
 */
async function chooseInput(
  options: AnalyzeVideoOptions,
  outputDir: string,
  log: (line: string) => void,
): Promise<{ input: string; kind: 'file' | 'clip' | 'sample' }> {
  if (options.input !== undefined) return { input: resolve(options.input), kind: 'file' };
  if (options.generateSample !== true) {
    let reason: string;
    try {
      const footage = await realFootage(DEFAULT_CLIP, { log });
      if ('path' in footage) return { input: footage.path, kind: 'clip' };
      reason = footage.unavailable;
    } catch (error) {
      // Offline, or apt cannot fetch: the demo still runs, on generated footage.
      reason = isVfError(error) ? error.message : String(error);
    }
    log(
      `real footage unavailable (${reason}): analysing a generated sample video with the ${options.detector ?? 'motion'} detector instead`,
    );
  }
  const input = join(outputDir, 'sample.mp4');
  const sampleStarted = performance.now();
  const { frames } = await generateSampleVideo(input, options.sample);
  log(`generated sample video ${input} (${frames} frames) in ${((performance.now() - sampleStarted) / 1000).toFixed(1)} s`);
  return { input, kind: 'sample' };
}

/** Frames in the first `maxSeconds` of `video`, or undefined when that is all of it (`maxSeconds` 0: all). */
export function framesToRead(video: Pick<VideoInfo, 'fps' | 'frames'>, maxSeconds: number): number | undefined {
  if (!(maxSeconds > 0)) return undefined;
  const frames = Math.max(1, Math.round(maxSeconds * video.fps));
  return video.frames > 0 && frames >= video.frames ? undefined : frames;
}

function readCounts(file: string): CounterReport | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CounterReport;
  } catch {
    // The counter never closed (its task was killed): the summary says 0 and the status says why.
    return undefined;
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
