import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { VfError } from '@vf/core';

/** Error codes of {@link VideoError}. */
export const VideoErrorCode = {
  /** The input video file does not exist (or is not a file). */
  NotFound: 'VIDEO_NOT_FOUND',
  /** ffprobe/ffmpeg cannot read the file as a video: corrupt, truncated, or not a video. */
  Unreadable: 'VIDEO_UNREADABLE',
  /** ffmpeg failed while encoding the output video. */
  EncodeFailed: 'VIDEO_ENCODE_FAILED',
  /** Neither a system ffmpeg nor the npm-shipped one can run. */
  FfmpegMissing: 'FFMPEG_MISSING',
  /** A stream (camera, URL) could not be opened or reopened within its retry limit. */
  StreamUnavailable: 'STREAM_UNAVAILABLE',
  /** An image in an image folder cannot be decoded, or the folder holds no image. */
  ImageUnreadable: 'IMAGE_UNREADABLE',
} as const;
/** The string codes of {@link VideoError}. */
export type VideoErrorCode = (typeof VideoErrorCode)[keyof typeof VideoErrorCode];

/** A video file cannot be read or written. Its message names the file; `details.file` holds it. */
export class VideoError extends VfError {
  constructor(code: VideoErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(code, message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      ...(options.file === undefined ? {} : { details: { file: options.file } }),
    });
    this.name = 'VideoError';
  }
}

/** Paths of the ffmpeg and ffprobe executables, and where each was found. */
export interface FfmpegTools {
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** `env` (VF_FFMPEG / VF_FFPROBE), `system` (on PATH) or `npm` (shipped inside an npm package). */
  readonly sources: { readonly ffmpeg: ToolSource; readonly ffprobe: ToolSource };
}
type ToolSource = 'env' | 'system' | 'npm';

const require = createRequire(import.meta.url);
const NPM_PACKAGES = { ffmpeg: '@ffmpeg-installer/ffmpeg', ffprobe: '@ffprobe-installer/ffprobe' } as const;
let found: FfmpegTools | undefined;

/**
 * Finds ffmpeg and ffprobe: `VF_FFMPEG` / `VF_FFPROBE` when set, else the system's on `PATH` (a
 * distribution build, usually newer), else the static builds shipped inside
 * `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe`, so that the demo needs nothing beyond
 * `pnpm install` on a bare machine.
 */
export function findFfmpeg(env: NodeJS.ProcessEnv = process.env): FfmpegTools {
  if (env === process.env && found !== undefined) return found;
  const ffmpeg = locate('ffmpeg', env.VF_FFMPEG, env);
  const ffprobe = locate('ffprobe', env.VF_FFPROBE, env);
  const tools = { ffmpeg: ffmpeg.path, ffprobe: ffprobe.path, sources: { ffmpeg: ffmpeg.source, ffprobe: ffprobe.source } };
  if (env === process.env) found = tools;
  return tools;
}

function locate(tool: 'ffmpeg' | 'ffprobe', override: string | undefined, env: NodeJS.ProcessEnv): { path: string; source: ToolSource } {
  if (override !== undefined && override !== '') return { path: override, source: 'env' };
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, tool);
    if (dir !== '' && isExecutable(candidate)) return { path: candidate, source: 'system' };
  }
  let shipped: string;
  try {
    shipped = (require(NPM_PACKAGES[tool]) as { path: string }).path;
  } catch (error) {
    throw new VideoError(VideoErrorCode.FfmpegMissing, `${tool} is not on PATH and ${NPM_PACKAGES[tool]} has no binary for this platform`, {
      cause: error,
    });
  }
  // pnpm runs the package's `chmod u+x` install script only when allowed to; make sure ourselves.
  if (!isExecutable(shipped)) {
    try {
      chmodSync(shipped, 0o755);
    } catch (error) {
      throw new VideoError(VideoErrorCode.FfmpegMissing, `${shipped} (from ${NPM_PACKAGES[tool]}) is not executable`, { cause: error });
    }
  }
  return { path: shipped, source: 'npm' };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** What {@link probeVideo} reads from a file's first video stream. */
export interface VideoInfo {
  /** Width of the frames as a player shows them: the stored height when {@link rotation} is 90 or 270. */
  readonly width: number;
  /** Height of the frames as a player shows them: the stored width when {@link rotation} is 90 or 270. */
  readonly height: number;
  /**
   * The turn, in degrees in [0, 360), that the file asks players to apply to its stored frames (a
   * portrait phone clip: 90 or 270): the display matrix's angle as ffprobe reports it, else the
   * legacy `rotate` tag; 0 when it has none. ffmpeg applies it while decoding, so the readers' frames
   * are upright and {@link width} × {@link height}. (Its sign convention has changed between ffprobe
   * versions: rely on it being a quarter turn or not, not on its direction.)
   */
  readonly rotation: number;
  /** Frames per second (the stream's average frame rate). */
  readonly fps: number;
  /** Frame count from the container, or estimated from duration × fps; 0 when unknown. */
  readonly frames: number;
  readonly durationS: number;
  readonly codec: string;
}

/**
 * Reads a video's size, frame rate and frame count with ffprobe. Throws {@link VideoError}
 * `VIDEO_NOT_FOUND` when the file does not exist, `VIDEO_UNREADABLE` when it is not a readable video.
 * `countFrames` decodes the whole stream to count exactly (for tests; slower).
 */
export async function probeVideo(file: string, options: { countFrames?: boolean } = {}): Promise<VideoInfo> {
  assertFileExists(file);
  return probe(file, [], options.countFrames === true);
}

/**
 * Reads a stream's size and frame rate with ffprobe: a URL (`rtsp://`, `http://`), a device
 * (`/dev/video0` with `inputArgs` `['-f', 'v4l2']`) or anything else ffmpeg opens. Throws
 * {@link VideoError} `STREAM_UNAVAILABLE` when it cannot be opened. A stream that never answers
 * holds ffprobe for up to 20 s: `signal` kills it at once, and the promise rejects with the
 * signal's reason (an `AbortError` by default).
 */
export async function probeStream(
  source: string,
  inputArgs: readonly string[] = [],
  options: { signal?: AbortSignal } = {},
): Promise<VideoInfo> {
  const { signal } = options;
  try {
    return await probe(source, inputArgs, false, signal);
  } catch (error) {
    if (signal?.aborted === true) throw signal.reason;
    throw new VideoError(VideoErrorCode.StreamUnavailable, `cannot open stream ${source}: ${(error as Error).message}`, {
      file: source,
      cause: error,
    });
  }
}

async function probe(file: string, inputArgs: readonly string[], countFrames: boolean, signal?: AbortSignal): Promise<VideoInfo> {
  const args = ['-v', 'error', ...inputArgs, '-select_streams', 'v:0'];
  const options = { countFrames };
  if (options.countFrames === true) args.push('-count_frames');
  args.push(
    '-show_entries',
    'stream=width,height,avg_frame_rate,nb_frames,nb_read_frames,codec_name:stream_side_data=rotation:stream_tags=rotate:format=duration',
    '-of',
    'json',
    file,
  );
  let stdout: string;
  try {
    stdout = await run(findFfmpeg().ffprobe, args, signal);
  } catch (error) {
    if (signal?.aborted === true) throw signal.reason;
    throw new VideoError(VideoErrorCode.Unreadable, `cannot read video ${file}: ${(error as Error).message}`, { file, cause: error });
  }
  const parsed = JSON.parse(stdout) as {
    streams?: Array<StreamEntries>;
    format?: { duration?: string };
  };
  const stream = parsed.streams?.[0];
  const storedWidth = Number(stream?.width);
  const storedHeight = Number(stream?.height);
  if (stream === undefined || !(storedWidth > 0) || !(storedHeight > 0)) {
    throw new VideoError(VideoErrorCode.Unreadable, `cannot read video ${file}: it has no video stream`, { file });
  }
  const rotation = rotationOf(stream);
  // ffmpeg turns the frames upright while decoding (its default -autorotate), and only a quarter turn
  // (within 1°, as ffmpeg rounds) swaps their sides: the readers must cut its pixels at that size.
  const quarterTurn = Math.abs(rotation - 90) < 1 || Math.abs(rotation - 270) < 1;
  const width = quarterTurn ? storedHeight : storedWidth;
  const height = quarterTurn ? storedWidth : storedHeight;
  const [num, den] = String(stream.avg_frame_rate ?? '0/1')
    .split('/')
    .map(Number);
  const fps = num !== undefined && den !== undefined && den > 0 ? num / den : 0;
  const durationS = Number(parsed.format?.duration ?? 0) || 0;
  const counted = Number(stream.nb_read_frames ?? stream.nb_frames);
  const frames = Number.isInteger(counted) && counted > 0 ? counted : Math.round(durationS * fps);
  return { width, height, rotation, fps: fps > 0 ? fps : 25, frames, durationS, codec: String(stream.codec_name ?? 'unknown') };
}

type StreamEntries = Record<string, unknown> & {
  side_data_list?: Array<{ rotation?: number | string }>;
  tags?: { rotate?: string };
};

/**
 * The turn a stream asks for, in [0, 360): ffprobe's `rotation` of its display matrix; else the
 * `rotate` tag, which ffprobe before 5.0 also gives and which `-metadata:s:v rotate=90` writes.
 */
function rotationOf(stream: StreamEntries): number {
  const matrix = stream.side_data_list?.find((entry) => entry.rotation !== undefined)?.rotation;
  const turn = Number(matrix ?? stream.tags?.rotate ?? 0);
  if (!Number.isFinite(turn)) return 0;
  return ((turn % 360) + 360) % 360;
}

const passthroughByFfmpeg = new Map<string, Promise<readonly string[]>>();

/**
 * The ffmpeg output options that pass every decoded frame through once, at its own time: without
 * them ffmpeg writes a constant-rate stream at the stream's `r_frame_rate`, duplicating the frames of
 * a variable-frame-rate file (60 frames came out as 197). ffmpeg 5.1 added `-fps_mode` and
 * deprecated `-vsync`, which older builds (the npm-shipped one) alone know: ask the ffmpeg in use.
 */
export function passthroughArgs(ffmpeg = findFfmpeg().ffmpeg): Promise<readonly string[]> {
  let args = passthroughByFfmpeg.get(ffmpeg);
  if (args === undefined) {
    args = run(ffmpeg, ['-hide_banner', '-h', 'full']).then(
      (help) => (/^\s*-fps_mode\b/m.test(help) ? ['-fps_mode', 'passthrough'] : ['-vsync', 'passthrough']),
      () => ['-vsync', 'passthrough'],
    );
    passthroughByFfmpeg.set(ffmpeg, args);
  }
  return args;
}

/** Throws {@link VideoError} `VIDEO_NOT_FOUND` unless `file` is an existing file. */
export function assertFileExists(file: string): void {
  if (existsSync(file) && statSync(file).isFile()) return;
  // A folder given for the file exists: say what it is rather than that it is missing.
  const what = existsSync(file) ? 'is not a file (a folder?)' : 'does not exist';
  throw new VideoError(VideoErrorCode.NotFound, `video file ${file} ${what}`, { file });
}

/**
 * Runs `command` to its end and resolves with its stdout. The child is one of {@link running}, so
 * it dies with this process, and `signal` kills it: a probe of a stream that never answers must not
 * outlive the flow that stopped waiting for it.
 */
function run(command: string, args: readonly string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    // Bounded: ffprobe on a stream that never answers would otherwise wait forever.
    const child = execFile(
      command,
      args,
      { maxBuffer: 16 * 1024 * 1024, timeout: 20_000, killSignal: 'SIGKILL', ...(signal === undefined ? {} : { signal }) },
      (error, stdout, stderr) => {
        if (signal?.aborted === true) reject(signal.reason);
        else if (error !== null) reject(new Error(lastLines(stderr) || error.message));
        else resolve(stdout);
      },
    );
    track(child);
  });
}

/** The last few lines of an ffmpeg log: where it says what went wrong. */
export function lastLines(text: string, count = 3): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

/** ffmpeg and ffprobe children of this process still running: ended when the process exits, whatever the path. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** ffmpeg and ffprobe children of this process that have not exited yet (for leak checks in tests). */
export function runningFfmpegCount(): number {
  return running.size;
}

/** Counts `child` in {@link running} until it exits, and makes sure the exit hook that kills what is left is installed. */
function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // 'exit' handlers run synchronously: kill() is all there is time for.
    process.once('exit', () => {
      for (const leftover of running) leftover.kill('SIGKILL');
    });
  }
}

/**
 * Spawns ffmpeg with `args`, keeping the tail of its stderr for error messages. The caller owns the
 * process; {@link stopProcess} ends it.
 *
 * The child runs in its own process group (`detached`): Ctrl-C in a terminal sends SIGINT to the
 * whole foreground group, and an encoder killed by it before the flow has finished leaves an MP4
 * without its index (unplayable). vf stops the flow on SIGINT and ends its ffmpeg children itself
 * (stdin closed, then a bounded kill). So that no child outlives its task, every one still running
 * is killed when the process exits, and a child that loses its parent sees its pipes close.
 */
export function spawnFfmpeg(args: readonly string[], stdin: 'pipe' | 'ignore'): { child: ChildProcess; stderr: () => string } {
  const child = spawn(findFfmpeg().ffmpeg, ['-hide_banner', '-nostats', '-v', 'error', ...args], {
    stdio: [stdin, 'pipe', 'pipe'],
    detached: true, // Ctrl-C signals the terminal's group: the owner ends ffmpeg (see the demo's README)
  });
  track(child);
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    log = (log + text).slice(-4000);
  });
  // Without a listener, a spawn failure (ENOENT) would be an uncaught exception.
  child.on('error', (error) => {
    log += `\n${error.message}`;
  });
  return { child, stderr: () => log };
}

/** Resolves with the exit code (or the signal's name) once `child` has exited. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', () => resolve('spawn failed'));
  });
}

/** Ends `child` (SIGTERM, then SIGKILL after `graceMs`) and waits until it has exited. */
export async function stopProcess(child: ChildProcess | undefined, graceMs = 1000): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/**
 * Waits up to `timeoutMs` for `child` to exit by itself (e.g. an encoder finishing its file after
 * its stdin closed), then ends it with {@link stopProcess}. Resolves with its exit code, or
 * `'timeout'` when it had to be killed.
 */
export async function waitOrStop(child: ChildProcess, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    exited(child),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, 'timeout');
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'timeout') await stopProcess(child);
  return outcome;
}
