import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { type NativeHelper, nativeHelper } from '../nativeHelper.js';

/** `0`: tasks are started by Node's `child_process.spawn` even where the native helper could (diagnostic; how the fallback is tested). */
export const NATIVE_SPAWN_ENV = 'VF_NATIVE_SPAWN';

/** What a task's descriptor `i` is: a new socket to the host, the host's own descriptor `i`, or `/dev/null`. */
export type StdioSetting = 'pipe' | 'inherit' | 'ignore';

/** The part of Node's `ChildProcess` that the fork spawner uses, for a process the native helper started. */
export class NativeChildProcess extends EventEmitter {
  readonly pid: number;
  /** The host's end of each `'pipe'` descriptor, by the task's descriptor number; null for the others. */
  readonly stdio: ReadonlyArray<Socket | null>;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  #exited = false;

  constructor(pid: number, stdio: ReadonlyArray<Socket | null>) {
    super();
    this.pid = pid;
    this.stdio = stdio;
  }

  get stdout(): Socket | null {
    return this.stdio[1] ?? null;
  }

  get stderr(): Socket | null {
    return this.stdio[2] ?? null;
  }

  /** Signals the process, as `ChildProcess.kill` does: false once it has ended (its pid may be another's by then). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.#exited) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** @internal From the helper's watch: the process has ended and is reaped. */
  exited(code: number, signalNumber: number): void {
    this.#exited = true;
    this.exitCode = code < 0 ? null : code;
    this.signalCode = signalNumber === 0 ? null : signalName(signalNumber);
    this.emit('exit', this.exitCode, this.signalCode);
  }
}

function signalName(signalNumber: number): NodeJS.Signals | null {
  for (const [name, value] of Object.entries(constants.signals)) if (value === signalNumber) return name as NodeJS.Signals;
  return null;
}

type Spawning = Required<Pick<NativeHelper, 'spawnProcess' | 'makeSocketPair'>>;

/** The helper's `spawnProcess` where it has one and it is not turned off ({@link NATIVE_SPAWN_ENV}). */
function nativeSpawning(): Spawning | undefined {
  if (process.env[NATIVE_SPAWN_ENV] === '0' || process.platform !== 'linux') return undefined;
  const helper = nativeHelper();
  if (helper?.spawnProcess === undefined || helper.makeSocketPair === undefined) return undefined;
  return helper as Spawning;
}

/**
 * Starts `file` with `args` in a session of its own (as `spawn` with `detached: true`), with the
 * descriptors `stdio` says, through the native helper's `posix_spawn` (see `native/vfShm.c`); undefined
 * where the helper cannot, or could not this time: the caller then spawns with Node.
 *
 * Why: libuv's spawn forks the host, copying its page tables, and waits for the child's `exec` to
 * throw them away; `posix_spawn` runs the child on the host's memory until its `exec`. Measured on
 * the 2-core bench VM, with a ~95 MB host: 10–40 ms of the host's thread per task process with
 * `child_process.spawn`, while the tasks it started before took the CPU booting.
 */
export function spawnNative(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stdio: readonly StdioSetting[],
): NativeChildProcess | undefined {
  const spawning = nativeSpawning();
  if (spawning === undefined) return undefined;
  const hostEnds: Array<number | undefined> = [];
  const childEnds: number[] = [];
  const fds: number[] = [];
  try {
    for (const [index, setting] of stdio.entries()) {
      if (setting === 'pipe') {
        const [hostEnd, childEnd] = spawning.makeSocketPair();
        hostEnds[index] = hostEnd;
        childEnds.push(childEnd);
        fds.push(childEnd);
      } else {
        fds.push(setting === 'inherit' ? index : -1);
      }
    }
    const environment = Object.entries(env).flatMap(([name, value]) => (value === undefined ? [] : [`${name}=${value}`]));
    let child: NativeChildProcess | undefined;
    const pid = spawning.spawnProcess(file, args, environment, fds, (code, signal) => child?.exited(code, signal));
    // As Node's: the host writes to the task's descriptor 0 and reads the others (which stay duplex).
    child = new NativeChildProcess(
      pid,
      hostEnds.map((fd, index) => (fd === undefined ? null : new Socket({ fd, readable: index !== 0, writable: true }))),
    );
    hostEnds.length = 0;
    return child;
  } catch {
    for (const fd of hostEnds) if (fd !== undefined) closeSync(fd);
    return undefined;
  } finally {
    for (const fd of childEnds) closeSync(fd);
  }
}
