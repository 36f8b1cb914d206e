import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Spawner, SpawnRequest, TaskProcess } from '../contracts/spawner.js';
import { HEARTBEAT_FD_ENV } from './controlChannel.js';
import { readJsonLines } from './jsonLines.js';

// The task entry sits beside this module: `.ts` when vf runs from source, `.js` once built.
const fromSource = import.meta.url.endsWith('.ts');
const taskEntry = fileURLToPath(new URL(fromSource ? './taskMain.ts' : './taskMain.js', import.meta.url));

/** The `tsx` loader, resolved from vf's own dependencies so that users need not install it. */
function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

/** Node options a task process needs: the `tsx` loader for TypeScript, the source condition from source. */
function taskExecArgv(request: SpawnRequest): string[] {
  const execArgv: string[] = [];
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

/** The task's descriptor for heartbeats: a pipe of its own, as its heartbeat thread cannot use the IPC channel. */
const HEARTBEAT_FD = 4;

/**
 * The default spawner: `child_process.fork` of vf's task entry with a JSON IPC channel (no code is
 * ever deserialised), plus a pipe on fd 4 that carries the task's heartbeats (`runtime/liveness.ts`),
 * read here as JSON lines and delivered like any control message. TypeScript flow modules run
 * through the `tsx` loader; from source, the `@vf/source` condition makes `@vf/*` imports resolve
 * to `.ts` files as in the tests.
 */
export const forkSpawner: Spawner = {
  spawn(request: SpawnRequest): TaskProcess {
    const child = fork(taskEntry, [request.label], {
      execArgv: taskExecArgv(request),
      env: { ...process.env, ...request.env, VF_TASK: request.label, [HEARTBEAT_FD_ENV]: String(HEARTBEAT_FD) },
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
    });
    const heartbeats = child.stdio[HEARTBEAT_FD] as Readable | null;
    const listeners: Array<(message: unknown) => void> = [];
    if (heartbeats !== null) {
      heartbeats.on('error', () => undefined); // the task's end closing is its exit, reported below
      readJsonLines(heartbeats, (message) => {
        for (const listener of listeners) listener(message);
      });
    }
    let exited = false;
    const exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];
    child.once('exit', (code, signal) => {
      exited = true;
      // A process the task started may hold the pipe open: it must not keep this one alive.
      heartbeats?.destroy();
      for (const listener of exitListeners) listener(code, signal);
    });
    // A failed spawn emits 'error' and no 'exit' in some cases: report it as an exit.
    child.once('error', () => {
      if (!exited && child.exitCode === null && child.pid === undefined) {
        exited = true;
        for (const listener of exitListeners) listener(null, null);
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
        if (exited) listener(child.exitCode, child.signalCode);
        else exitListeners.push(listener);
      },
      kill: (signal = 'SIGKILL') => {
        if (!exited) child.kill(signal);
      },
    };
  },
};
