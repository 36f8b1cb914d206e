import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVfError } from '@vf/core';
import { findFfmpeg } from '@vf/vision';
import { Command, Option } from 'commander';
import { analyzeVideo, ENGINES, type EngineName, type FlowObserver } from './analyzeVideo.js';
import { nonNegative, port, positiveInteger, videoSize } from './cliParsers.js';
import { registerGroupsCommands } from './groupsExtension.js';
import { LiveServer } from './live/liveServer.js';
import { ProgressDisplay } from './progressDisplay.js';

/** Where the demo writes when no `--output` is given. */
export const DEFAULT_OUTPUT = join(tmpdir(), 'vf-demo');

/** Parsed options of the main command. */
interface RunOptions {
  readonly input?: string;
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
      'vf end-to-end demo: finds, tracks and counts moving objects in a video (a generated sample by default)\n' +
        'and writes the annotated video and a JSON summary. One OS process per task, wired by ZeroMQ.',
    )
    .option('-i, --input <file>', 'video to analyse (default: generate a sample video of moving shapes)')
    .option('-o, --output <dir>', 'directory for annotated.mp4, counts.json and summary.json', DEFAULT_OUTPUT)
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

/** Runs the main job with parsed options; returns the exit code (0 when the flow completed). */
async function runDemo(options: RunOptions): Promise<number> {
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
      outputDir: options.output,
      engine: options.engine,
      detectorTasks: options.detectorTasks,
      queueSize: options.queueSize,
      sample: { durationS: options.duration, fps: options.fps, ...options.size },
      observers,
      log: (line) => console.log(line),
    });
    console.log(String(report));
    console.log(
      [
        `objects on screen at most: ${summary.objects}, tracks counted: ${summary.tracks}, frames: ${summary.frames}, detections: ${summary.detections}`,
        `annotated video: ${summary.output}`,
        `summary: ${join(options.output, 'summary.json')}`,
        `done in ${(summary.wallMs / 1000).toFixed(1)} s`,
      ].join('\n'),
    );
    if (live !== undefined && options.linger > 0) {
      console.log(`live view stays up for ${options.linger} s at ${live.url} (Ctrl-C to leave now)`);
      await lingerFor(options.linger * 1000);
    }
    return summary.status === 'failed' ? 1 : 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}${isVfError(error) ? ` (${error.code})` : ''}`);
    return 1;
  } finally {
    await live?.close();
  }
}

function lingerFor(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      process.off('SIGINT', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    process.once('SIGINT', done);
  });
}
