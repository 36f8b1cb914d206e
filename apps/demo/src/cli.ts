import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVfError } from '@vf/core';
import { findFfmpeg } from '@vf/vision';
import { Command, Option } from 'commander';
import { DETECTORS, type DetectorName } from '../flows/analyze.js';
import { analyzeVideo, DEFAULT_CLIP, DEFAULT_CLIP_SECONDS, ENGINES, type EngineName, type FlowObserver } from './analyzeVideo.js';
import { nonNegative, port, positiveInteger, userPath, videoSize } from './cliParsers.js';
import { registerGroupsCommands } from './groupsExtension.js';
import { LiveServer } from './live/liveServer.js';
import { ProgressDisplay } from './progressDisplay.js';

/** Where the demo writes when no `--output` is given. */
export const DEFAULT_OUTPUT = join(tmpdir(), 'vf-demo');

/**
 * Exit code after Ctrl-C (SIGINT) stopped the job: 128 + SIGINT's number, the shell's convention, so
 * a script can tell an interrupted run from a completed one. The outputs of what was processed are
 * written all the same (`summary.json` says `status: "stopped"`).
 */
export const INTERRUPTED_EXIT_CODE = 130;

/** Parsed options of the main command. */
interface RunOptions {
  readonly input?: string;
  readonly sample: boolean;
  readonly detector?: DetectorName;
  readonly maxSeconds?: number;
  readonly output: string;
  readonly engine: EngineName;
  readonly detectorTasks: number;
  readonly queueSize: number;
  readonly live?: number | true;
  readonly linger: number;
  readonly duration: number;
  readonly size: { width: number; height: number };
  readonly fps: number;
  readonly progress: boolean;
}

/** The demo's command line (commander). `run` is what `pnpm demo` does with no arguments. */
export function buildProgram(): Command {
  const program = new Command('vf-demo')
    .description(
      `vf end-to-end demo: detects (COCO, 80 classes), tracks and counts objects in a video (by default the first\n` +
        `${DEFAULT_CLIP_SECONDS} s of ${DEFAULT_CLIP}, people walking, fetched once from Debian's opencv-doc) and writes the\n` +
        'annotated video and a JSON summary. One OS process per task, wired by ZeroMQ. Ctrl-C stops and keeps what was done.',
    )
    .option('-i, --input <file>', `video to analyse (default: ${DEFAULT_CLIP}, or a generated sample when it cannot be had)`, (value) =>
      userPath(value),
    )
    .option('--sample', 'analyse a generated sample video of moving shapes instead (see --duration, --size, --fps)', false)
    .addOption(
      new Option(
        '--detector <name>',
        'coco: pretrained COCO detector; motion: background subtraction (default: coco, motion on a sample)',
      ).choices(DETECTORS),
    )
    .option(
      '--max-seconds <s>',
      `analyse only the first s seconds, 0 for all (default: ${DEFAULT_CLIP_SECONDS} of the default clip, all of an --input video)`,
      nonNegative,
    )
    .option('-o, --output <dir>', 'directory for annotated.mp4, counts.json and summary.json', (value) => userPath(value), DEFAULT_OUTPUT)
    .addOption(new Option('-e, --engine <name>', 'execution engine').choices(ENGINES).default('batch'))
    .option('-d, --detector-tasks <n>', 'replicas (task processes) of the detector', positiveInteger, 2)
    .option('-q, --queue-size <n>', 'queue size of the engine', positiveInteger, 4)
    .option('--live [port]', 'serve a live view of the running flow on localhost (default port 8080)', port)
    .option('--linger <seconds>', 'with --live: keep serving this long after the flow ends', nonNegative, 10)
    .option('--duration <seconds>', 'length of the generated sample video', nonNegative, 5)
    .addOption(
      new Option('--size <WxH>', 'size of the generated sample video').argParser(videoSize).default({ width: 640, height: 360 }, '640x360'),
    )
    .option('--fps <n>', 'frame rate of the generated sample video', positiveInteger, 25)
    .option('--no-progress', 'no progress display')
    .action(async (options: RunOptions) => {
      process.exitCode = await runDemo(options);
    });
  registerGroupsCommands(program);
  return program;
}

/** Runs the main job with parsed options; returns the exit code (0 completed, 1 failed, {@link INTERRUPTED_EXIT_CODE} stopped by Ctrl-C). */
async function runDemo(options: RunOptions): Promise<number> {
  const interrupt = interruptOnSigint((line) => console.log(line));
  const tools = findFfmpeg();
  console.log(`ffmpeg: ${tools.ffmpeg} (${tools.sources.ffmpeg})`);
  const observers: FlowObserver[] = [];
  if (options.progress) observers.push(new ProgressDisplay());
  let live: LiveServer | undefined;
  try {
    if (options.live !== undefined) {
      live = await LiveServer.listen({ port: options.live === true ? 8080 : options.live });
      observers.push(live);
      console.log(`live view: ${live.url}`);
    }
    const { summary, report } = await analyzeVideo({
      ...(options.input === undefined ? {} : { input: options.input }),
      generateSample: options.sample,
      ...(options.detector === undefined ? {} : { detector: options.detector }),
      ...(options.maxSeconds === undefined ? {} : { maxSeconds: options.maxSeconds }),
      outputDir: options.output,
      engine: options.engine,
      detectorTasks: options.detectorTasks,
      queueSize: options.queueSize,
      sample: { durationS: options.duration, fps: options.fps, ...options.size },
      observers,
      log: (line) => console.log(line),
      signal: interrupt.signal,
      preview: live !== undefined,
    });
    interrupt.jobDone();
    console.log(String(report));
    console.log(
      [
        `objects on screen at most: ${summary.objects}, tracks counted: ${summary.tracks}, frames: ${summary.frames}, detections: ${summary.detections}`,
        ...(summary.classes === undefined ? [] : [`per class: ${describeClasses(summary.classes)}`]),
        ...(summary.backends === undefined || summary.backends.length === 0 ? [] : [`detector ran on: ${summary.backends.join(', ')}`]),
        `annotated video: ${summary.output}`,
        `summary: ${join(options.output, 'summary.json')}`,
        `done in ${(summary.wallMs / 1000).toFixed(1)} s`,
      ].join('\n'),
    );
    if (live !== undefined && options.linger > 0 && !interrupt.signal.aborted) {
      console.log(`live view stays up for ${options.linger} s at ${live.url} (Ctrl-C to leave now)`);
      await lingerFor(options.linger * 1000, interrupt.signal);
    }
    return summary.status === 'failed' ? 1 : summary.status === 'stopped' ? INTERRUPTED_EXIT_CODE : 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}${isVfError(error) ? ` (${error.code})` : ''}`);
    return 1;
  } finally {
    interrupt.dispose();
    await live?.close();
  }
}

/** `person 9 tracks (412 detections), car 1 track (30 detections)` from the summary's `classes`. */
export function describeClasses(classes: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(classes).map(([label, value]) => {
    const { tracks, detections } = (value ?? {}) as { tracks?: number; detections?: number };
    return `${label} ${tracks ?? 0} track${tracks === 1 ? '' : 's'} (${detections ?? 0} detections)`;
  });
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/**
 * Ctrl-C for the whole job, from the first line to the last (vf's own handler covers only
 * `run()`…`join()`, not the sample video or the summary): the first SIGINT aborts `signal`, which
 * stops the flow cleanly so that the outputs hold what was processed; a second one quits at once
 * with {@link INTERRUPTED_EXIT_CODE} (the task processes notice the host is gone and exit).
 */
export function interruptOnSigint(log: (line: string) => void): {
  readonly signal: AbortSignal;
  /** The job is over: a Ctrl-C now only ends the live view's linger, with no message. */
  jobDone(): void;
  dispose(): void;
} {
  const controller = new AbortController();
  let jobRunning = true;
  const onSigint = () => {
    if (!controller.signal.aborted) {
      if (jobRunning) log('stopping: writing the outputs of what was processed (Ctrl-C again to quit at once)');
      controller.abort();
      return;
    }
    process.exit(INTERRUPTED_EXIT_CODE);
  };
  process.on('SIGINT', onSigint);
  return {
    signal: controller.signal,
    jobDone: () => {
      jobRunning = false;
    },
    dispose: () => process.off('SIGINT', onSigint),
  };
}

function lingerFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
