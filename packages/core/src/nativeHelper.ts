import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * vf's optional native helper (`native/vfShm.c`, built at install by `native/build.mjs` with the C
 * compiler and Node's headers): shared-memory mappings for frames (`transport/sharedFrames.ts`),
 * the atomic cells and bells of shared rings (`transport/sharedRing.ts`, `transport/ringBell.ts`), a
 * heartbeat thread for tasks (`runtime/liveness.ts`), the reset of a task's V8 options and the
 * start of local task processes (`runtime/nativeSpawn.ts`). Where it was not built, each falls back
 * to plain Node (a copy more per frame; envelopes on ZeroMQ only; a worker thread for heartbeats;
 * `node:v8`; `child_process.spawn`).
 */
export interface NativeHelper {
  /**
   * An ArrayBuffer over a mapping of the whole segment (exactly `byteLength` bytes): `shared`, the
   * sender's read-write view of its pool segment; else private, copy-on-write, and `path` is
   * unlinked when the buffer is collected (a receiver's link).
   */
  map(path: string, byteLength: number, shared: boolean): ArrayBuffer;
  /**
   * Whether no page of `buffer`, a private mapping from {@link map}, was written since it was mapped
   * (`/proc/self/pagemap`: a written page of a private mapping is an anonymous copy), i.e. the file
   * still holds exactly its bytes. Throws where pagemap cannot be read.
   */
  unwritten(buffer: ArrayBuffer): boolean;
  /**
   * Writes a heartbeat line to `fd` now, then every `periodMs` from a thread of its own, from `cells`
   * (the tick counter and the node-code mark, see `TaskActivity`). Throws when the first write fails.
   */
  startHeartbeats(fd: number, periodMs: number, cells: Int32Array): unknown;
  /** No heartbeat after the current one. */
  stopHeartbeats(handle: unknown): void;
  /**
   * The control protocol version of the heartbeat lines (`CONTROL_PROTOCOL_VERSION`); absent from a
   * helper built before vf had it, whose lines say 1.
   */
  readonly heartbeatProtocol?: number;
  /**
   * A sequentially consistent atomic operation on the 32-bit cell `index` of `buffer` (a shared ring's
   * mapping): `op` 0 load, 1 store (exchange), 2 add, 3 or, 4 and, with `operand`. Returns the
   * cell's value before it (a load: its value).
   */
  cell(buffer: ArrayBuffer, index: number, op: number, operand: number): number;
  /** Creates a FIFO (mode 0600) at `path`, which must not exist: a task's bell (`transport/ringBell.ts`). */
  makeFifo(path: string): void;
  /**
   * Copies `source` to the start of `target` (at least as long) with stores that bypass the cache
   * (x86-64; elsewhere a plain copy): a frame written into a pool segment, for other processes.
   */
  copyStreaming(target: Uint8Array, source: Uint8Array): void;
  /**
   * Listens to the FIFO at `path` (a bell from {@link makeFifo}) on the event loop, draining it and
   * calling `onRing` once per wake-up; the listener does not keep the process alive. Absent where
   * the helper was built without libuv's header.
   */
  listenBell?(path: string, onRing: () => void): unknown;
  /** Stops a {@link listenBell} listener and closes its descriptor (once per handle). */
  closeBell?(handle: unknown): void;
  /**
   * Writes one byte to `fd`, a bell's FIFO opened non-blocking (`transport/ringBell.ts`); never
   * throws: a full FIFO (EAGAIN) has a wake-up pending already, a closed one (EPIPE) needs none.
   * Absent from a helper built before vf had it: rings then go through `fs.writeSync`.
   */
  ringBell?(fd: number): void;
  /**
   * Two float64 cells the event loop's check phase updates at every turn: how many turns it made,
   * and when the last one came (`uv_hrtime`, in ms); see `runtime/waiting.ts`. Absent where the
   * helper was built without libuv's header, or before vf had it.
   */
  watchLoopTurns?(): ArrayBuffer;
  /**
   * Starts `file` with `args` (after `argv[0]`, which is `file`) and `env` (`NAME=value` strings) in
   * a session of its own through `posix_spawn`, its descriptor `i` a copy of this process's `fds[i]`
   * (-1: `/dev/null`); calls `onExit(code, signal)` once it has ended and been reaped (code -1 when a
   * signal ended it, signal 0 when none did), and keeps the event loop alive until then. Returns
   * its pid; throws when it could not start. See `runtime/nativeSpawn.ts`. Absent where the helper
   * was built without libuv's header or glibc's `POSIX_SPAWN_SETSID`, where the kernel has no
   * `pidfd_open` (Linux 5.3), or before vf had it.
   */
  spawnProcess?(
    file: string,
    args: readonly string[],
    env: readonly string[],
    fds: readonly number[],
    onExit: (code: number, signal: number) => void,
  ): number;
  /** A connected Unix stream socket pair, both ends close-on-exec; present with {@link spawnProcess}. */
  makeSocketPair?(): [number, number];
  /** V8's own `SetFlagsFromString(flags)`; false where node does not export it (see `native/taskPreload.cjs`). */
  resetV8Flags(flags: string): boolean;
}

/**
 * Preloaded (`--require`) by every task process after its V8 heap options: puts back the host's
 * `NODE_EXTRA_CA_CERTS` (`runtime/extraCaCerts.ts`), and sets the V8 options back to V8's defaults
 * before any other module loads, through the helper where it was built (see the file).
 * From src/ (source) or dist/ (built): the native folder is their sibling.
 */
export const TASK_PRELOAD = fileURLToPath(new URL('../native/taskPreload.cjs', import.meta.url));

/**
 * Runs a task program built as CommonJS through V8's code cache (`node … <this> <program> <label>`).
 * From src/ (source) or dist/ (built): the native folder is their sibling.
 */
export const LOAD_TASK_PROGRAM = fileURLToPath(new URL('../native/loadTaskProgram.cjs', import.meta.url));

/** The helper's file, where `native/build.mjs` builds it. From src/ (source) or dist/ (built): the native folder is their sibling. */
export const NATIVE_HELPER_PATH = fileURLToPath(new URL('../native/build/vfShm.node', import.meta.url));

let loaded: NativeHelper | null | undefined;

/** The native helper, loaded once; null where it was not built. */
export function nativeHelper(): NativeHelper | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = createRequire(import.meta.url)(NATIVE_HELPER_PATH) as NativeHelper;
  } catch {
    loaded = null;
  }
  return loaded;
}
