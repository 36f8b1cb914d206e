import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Spawner, SpawnRequest, TaskProcess } from '../contracts/spawner.js';
import { HEARTBEAT_FD_ENV } from './controlChannel.js';
import { restartedIfCaughtAtFork } from './forkWindow.js';
import { readJsonLines } from './jsonLines.js';

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
 * Preloaded before a task's own modules: sets {@link TASK_V8_OPTIONS} back to V8's defaults once
 * the heap is configured with them. V8 accepts a code cache only where the flags it was made with
 * match the process's, so with any V8 option Node's built-in modules lose their embedded code cache
 * and are compiled from source as they load. Measured (CPU of a forked ES module importing the
 * built-ins a task uses): 101 ms with the options, 83 ms with them reset here, 60 ms without any;
 * what Node loads before a preload runs (its IPC channel's modules) stays uncached. The heap keeps
 * what it was configured with (its young generation stays capped: `forkSpawner.test.ts`); only the
 * flags' hash is back to the default one. A `data:` module: it must run on plain node, from source
 * too, and ship as no file of its own.
 */
const RESTORE_V8_DEFAULTS = `data:text/javascript,import{setFlagsFromString}from"node:v8";${TASK_V8_OPTIONS.map(
  (option) => `setFlagsFromString("${option.replace(/=.*/, '=0')}");`,
).join('')}`;

/**
 * Node options a task process needs: V8's (and their reset), the `tsx` loader for TypeScript
 * without a compiled program, the source condition from source.
 */
function taskExecArgv(request: SpawnRequest, compiledProgram = false): string[] {
  const execArgv: string[] = [...TASK_V8_OPTIONS, '--import', RESTORE_V8_DEFAULTS];
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

/** `LIBC` as prebuilt-binary loaders read it: this machine's C library, found once in the host. */
let libc: string | null | undefined;

/**
 * `{ LIBC }` for a task on this machine, unless the environment sets it: msgpackr's native
 * extractor is found through `node-gyp-build-optional-packages`, which otherwise probes the C
 * library in every task as it loads (~5-10 ms of each task's start-up CPU). The host has probed it
 * already (it loads msgpackr too): the answer is the same on the same machine.
 */
function libcEnv(): Record<string, string> {
  if (process.env.LIBC !== undefined) return {};
  if (libc === undefined) {
    try {
      libc = (createRequire(import.meta.url)('detect-libc') as typeof import('detect-libc')).familySync();
    } catch {
      libc = null;
    }
  }
  return libc === null ? {} : { LIBC: libc };
}

/** How long a task's exit waits for the rest of its IPC messages before it is reported. */
const EXIT_DRAIN_LIMIT_MS = 2_000;

/** The task's descriptor for heartbeats: a pipe of its own, as its heartbeat thread cannot use the IPC channel. */
const HEARTBEAT_FD = 4;

/**
 * The default spawner: `child_process.fork` of vf's task entry with a JSON IPC channel (no code is
 * ever deserialised), plus a pipe on fd 4 that carries the task's heartbeats (`runtime/liveness.ts`),
 * read here as JSON lines and delivered like any control message. With the run's compiled task
 * program (`request.program`) the child runs that on plain `node`; without one, TypeScript flow
 * modules run through the `tsx` loader; from source, the `@vf/source` condition makes `@vf/*` imports resolve
 * to `.ts` files as in the tests.
 */
export const forkSpawner: Spawner = {
  spawn: (request: SpawnRequest): TaskProcess => restartedIfCaughtAtFork(() => forkTask(request)),
};

/** Forks one task process for `request` (see {@link forkSpawner}). */
function forkTask(request: SpawnRequest): TaskProcess {
  const prefixOut = prefixesOutput(process.stdout);
  const prefixErr = prefixesOutput(process.stderr);
  // A compiled program needs no loader; it maps its stack traces to the user's `.ts` lines itself
  // (`programStackTraces.ts`), not with --enable-source-maps, which reads its map at start-up.
  const child = fork(request.program ?? taskEntry, [request.label], {
    execArgv: taskExecArgv(request, request.program !== undefined),
    env: { ...process.env, ...libcEnv(), ...request.env, VF_TASK: request.label, [HEARTBEAT_FD_ENV]: String(HEARTBEAT_FD) },
    serialization: 'json',
    stdio: ['ignore', prefixOut ? 'pipe' : 'inherit', prefixErr ? 'pipe' : 'inherit', 'ipc', 'pipe'],
    // A process group of its own: Ctrl-C signals the terminal's whole group, and a task still loading
    // its modules (before it can ignore SIGINT) would die of it. The host decides: it stops the flow.
    // (One caught before its setsid is started again: runtime/forkWindow.ts.)
    detached: true,
  });
  if (prefixOut && child.stdout !== null) prefixLines(child.stdout, process.stdout, request.label);
  if (prefixErr && child.stderr !== null) prefixLines(child.stderr, process.stderr, request.label);
  const heartbeats = child.stdio[HEARTBEAT_FD] as Readable | null;
  const listeners: Array<(message: unknown) => void> = [];
  if (heartbeats !== null) {
    heartbeats.on('error', () => undefined); // the task's end closing is its exit, reported below
    readJsonLines(heartbeats, (message) => {
      for (const listener of listeners) listener(message);
    });
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
    // A process the task started may hold the pipe open: it must not keep this one alive.
    heartbeats?.destroy();
    // Its last lines are still read while this process runs, but they must not keep it running.
    (child.stdout as { unref?: () => void } | null)?.unref?.();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    const report = () => reportExit(code, signal);
    // The exit can be seen before the task's last messages (done) are read from the IPC channel:
    // report it once the channel has delivered them (its end), within a bound.
    if (!child.connected) return report();
    const limit = setTimeout(report, EXIT_DRAIN_LIMIT_MS);
    child.once('disconnect', () => {
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
      if (!child.connected) return false;
      child.send(message as object, (error) => {
        // A send racing the child's exit is not an error of its own: the exit is reported.
        if (error !== null && error !== undefined) return;
      });
      return true;
    },
    onMessage: (listener) => {
      child.on('message', listener);
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
