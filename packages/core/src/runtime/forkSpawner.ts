import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Spawner, SpawnRequest, TaskProcess } from '../contracts/spawner.js';
import { LOAD_TASK_PROGRAM, TASK_PRELOAD } from '../nativeHelper.js';
import { FLOW_PROGRAM_ENV } from './bundledModules.js';
import { CONTROL_FDS_ENV, type ControlFds, type pipeControlChannel } from './controlChannel.js';
import { restartedIfCaughtAtFork } from './forkWindow.js';
import { jsonLine, readJsonLines } from './jsonLines.js';
import { type StdioSetting, spawnNative } from './nativeSpawn.js';
import { deferred } from './waiting.js';

// The task entry sits beside this module: `.ts` when vf runs from source, `.js` once built.
const fromSource = import.meta.url.endsWith('.ts');
const taskEntry = fileURLToPath(new URL(fromSource ? './taskMain.ts' : './taskMain.js', import.meta.url));

/** The `tsx` loader, resolved from vf's own dependencies so that users need not install it. */
function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

/**
 * V8 options of every task. A task's old generation starts with an allocation limit of a few times
 * its ~10 MB of live objects, and V8 counts the bytes of external ArrayBuffers against it: a task
 * receiving 6 MB frames (mapped from shared memory, or copied) started a mark-compact every dozen
 * frames with its objects well under the limit, and spent more CPU in them than in the rest of its
 * work (bench/run.ts frames, `--trace-gc`: 50–75 per 900 frames per receiver). With 64 MB of initial
 * old space, 2–4; what the limit holds back is at most that much garbage per task.
 * The young generation is capped at 4 MB per semi-space (V8's default grows it to 16): over a
 * 1,000,000-message soak V8 grew it late in the run, and each task's RSS with it, by 8–10 MB
 * (1.16–1.18× its start; its live heap stayed at 7.5 MB, `--trace-gc`). Capped, RSS stays within
 * 1.05× and peaks 8 MB lower per task, at no throughput cost measured (soak, frames).
 */
const TASK_V8_OPTIONS = ['--initial-old-space-size=64', '--max-semi-space-size=4'];

/**
 * Node options a task process needs: V8's, then the preload that resets them
 * ({@link TASK_PRELOAD}), the `tsx` loader for TypeScript without a compiled program, the
 * source condition from source.
 *
 * Why the reset: V8 accepts a code cache only where the flags it was made with match the
 * process's, so with any V8 option Node's built-in modules lose their embedded code cache and are
 * compiled from source as they load. The preload sets {@link TASK_V8_OPTIONS} back to V8's defaults
 * once the heap is configured with them: the heap keeps that configuration (its young generation
 * stays capped: `forkSpawner.test.ts`), only the flags' hash is the default one again. It is
 * CommonJS and resets through the native helper, so nothing but Node's bootstrap loads before it;
 * through `node:v8` from an ES module preload, the ES module loader, `node:v8` and its streams loaded
 * first, uncached. Measured, CPU of a process importing a task's built-ins and zeromq (medians of
 * 15): 81 ms reset from an ES module through `node:v8`, 68 ms reset natively, 55 ms with no V8
 * option at all. Node's IPC channel would load before any preload: tasks have pipes.
 */
function taskExecArgv(request: SpawnRequest, compiledProgram = false): string[] {
  const execArgv: string[] = [...TASK_V8_OPTIONS, '--require', TASK_PRELOAD];
  if (compiledProgram) return execArgv;
  if (request.typescript || fromSource) execArgv.push('--import', tsxLoaderUrl());
  if (fromSource) execArgv.push('--conditions=@vf/source');
  return execArgv;
}

/**
 * The arguments after `node` that start a task process for `request`, for launchers that run it on
 * another machine (which must see vf, and the flow module, at the same paths as this one).
 */
export function taskNodeArguments(request: SpawnRequest): string[] {
  return [...taskExecArgv(request), taskEntry, request.label];
}

/** `1` or `0`: prefix (or not) every line a task writes with its name; default: when the host's stream is a terminal. */
export const TASK_OUTPUT_PREFIX_ENV = 'VF_TASK_OUTPUT_PREFIX';

function prefixesOutput(target: { readonly isTTY?: boolean }): boolean {
  const setting = process.env[TASK_OUTPUT_PREFIX_ENV];
  return setting === undefined || setting === '' ? target.isTTY === true : setting === '1';
}

/**
 * Copies a task's output to the host's stream line by line, each led by the task's name, so that
 * the interleaved output of many tasks on a terminal says who wrote what. The task's JSON log
 * records pass as they are: they name the task themselves, and must stay JSON lines.
 */
function prefixLines(from: Readable, to: Writable, label: string): void {
  from.on('error', () => undefined); // the task's end closing the pipe is its exit, reported elsewhere
  createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    to.write(line.startsWith('{"level":') ? `${line}\n` : `${label} | ${line}\n`);
  });
}

/** How long a task's exit waits for the rest of its messages (on its pipe) before it is reported. */
const EXIT_DRAIN_LIMIT_MS = 2_000;

/** A local task's control channel (`controlChannel.ts`, {@link ControlFds}): the child's descriptors 3, 4 and 5. */
const CONTROL_FDS: ControlFds = { input: 3, heartbeats: 4, output: 5 };

/**
 * The default spawner: spawns node on vf's task entry (or the run's compiled task program, on plain
 * `node`) in a process of its own, with three pipes for its control channel: newline-delimited JSON
 * to the task and from it (no code is ever deserialised), and its heartbeats (`runtime/liveness.ts`),
 * delivered like any control message. Not `fork`'s IPC channel: see {@link pipeControlChannel}.
 * Without a compiled program, TypeScript flow modules run through the `tsx` loader; from source,
 * the `@vf/source` condition makes `@vf/*` imports resolve to `.ts` files as in the tests.
 */
export const forkSpawner: Spawner = {
  spawn: (request: SpawnRequest): TaskProcess => restartedIfCaughtAtFork(() => forkTask(request)),
};

/** Names, for `native/loadTaskProgram.cjs`, the file of V8's code cache for the task's program. */
const TASK_CODE_CACHE_ENV = 'VF_TASK_CODE_CACHE';

/** Starts one task process for `request` (see {@link forkSpawner}). */
function forkTask(request: SpawnRequest): TaskProcess {
  const prefixOut = prefixesOutput(process.stdout);
  const prefixErr = prefixesOutput(process.stderr);
  // A compiled program needs no loader; it maps its stack traces to the user's `.ts` lines itself
  // (`programStackTraces.ts`), not with --enable-source-maps, which reads its map at start-up.
  const execArgv = taskExecArgv(request, request.program !== undefined);
  const { program } = request;
  // A CommonJS program runs through V8's code cache (native/loadTaskProgram.cjs).
  const entry = program === undefined ? [taskEntry] : program.endsWith('.cjs') ? [LOAD_TASK_PROGRAM, program] : [program];
  const args = [...execArgv, ...entry, request.label];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...request.env,
    ...(request.programCodeCache === undefined ? {} : { [TASK_CODE_CACHE_ENV]: request.programCodeCache }),
    ...(request.flowProgram === undefined ? {} : { [FLOW_PROGRAM_ENV.program]: request.flowProgram }),
    ...(request.flowProgramCodeCache === undefined ? {} : { [FLOW_PROGRAM_ENV.codeCache]: request.flowProgramCodeCache }),
    VF_TASK: request.label,
    [CONTROL_FDS_ENV]: `${CONTROL_FDS.input},${CONTROL_FDS.heartbeats},${CONTROL_FDS.output}`,
  };
  const stdio: StdioSetting[] = ['ignore', prefixOut ? 'pipe' : 'inherit', prefixErr ? 'pipe' : 'inherit', 'pipe', 'pipe', 'pipe'];
  // A session of its own either way (`detached`): Ctrl-C signals the terminal's whole group, and a
  // task still loading its modules (before it can ignore SIGINT) would die of it. The host decides:
  // it stops the flow. (One caught before its setsid is started again: runtime/forkWindow.ts.)
  const child = spawnNative(process.execPath, args, env, stdio) ?? spawn(process.execPath, args, { env, stdio, detached: true });
  if (prefixOut && child.stdout !== null) prefixLines(child.stdout, process.stdout, request.label);
  if (prefixErr && child.stderr !== null) prefixLines(child.stderr, process.stderr, request.label);
  const toTask = child.stdio[CONTROL_FDS.input] as Writable | null;
  const fromTask = child.stdio[CONTROL_FDS.output] as Readable | null;
  const heartbeats = child.stdio[CONTROL_FDS.heartbeats] as Readable | null;
  const listeners: Array<(message: unknown) => void> = [];
  const deliver = (message: unknown) => {
    for (const listener of listeners) listener(message);
  };
  // A write after the task's end, or a read error: the task's exit, reported below.
  toTask?.on('error', () => undefined);
  let fromTaskEnded = fromTask === null;
  const fromTaskEnd = deferred();
  if (fromTask !== null) {
    fromTask.on('error', () => undefined);
    readJsonLines(fromTask, deliver).once('close', () => {
      fromTaskEnded = true;
      fromTaskEnd.resolve();
    });
  }
  if (heartbeats !== null) {
    heartbeats.on('error', () => undefined);
    readJsonLines(heartbeats, deliver);
  }
  let exited = false;
  let reportedExit: [number | null, NodeJS.Signals | null] | undefined;
  const exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];
  const reportExit = (code: number | null, signal: NodeJS.Signals | null) => {
    if (reportedExit !== undefined) return;
    reportedExit = [code, signal];
    for (const listener of exitListeners.splice(0)) listener(code, signal);
  };
  child.once('exit', (code, signal) => {
    exited = true;
    toTask?.destroy();
    // A process the task started may hold the pipe open: it must not keep this one alive.
    heartbeats?.destroy();
    // Its last lines are still read while this process runs, but they must not keep it running.
    (child.stdout as { unref?: () => void } | null)?.unref?.();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    const report = () => reportExit(code, signal);
    // The exit can be seen before the task's last messages (done) are read from its pipe: report
    // it once the pipe has delivered them (its end), within a bound (a process the task started may
    // hold the pipe open).
    if (fromTaskEnded) return report();
    const limit = setTimeout(() => {
      fromTask?.destroy();
      report();
    }, EXIT_DRAIN_LIMIT_MS);
    void fromTaskEnd.promise.then(() => {
      clearTimeout(limit);
      report();
    });
  });
  // A failed spawn emits 'error' and no 'exit' in some cases: report it as an exit.
  child.once('error', () => {
    if (!exited && child.exitCode === null && child.pid === undefined) {
      exited = true;
      reportExit(null, null);
    }
  });
  return {
    pid: child.pid,
    send: (message) => {
      if (exited || toTask === null || !toTask.writable) return false;
      toTask.write(jsonLine(message));
      return true;
    },
    onMessage: (listener) => {
      listeners.push(listener);
    },
    onExit: (listener) => {
      if (reportedExit === undefined) exitListeners.push(listener);
      else listener(...reportedExit);
    },
    kill: (signal = 'SIGKILL') => {
      if (!exited) child.kill(signal);
    },
  };
}
