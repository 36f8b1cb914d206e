import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import lockfile from 'proper-lockfile';
import { onExit } from 'signal-exit';
import { GroupsError } from './errors.js';

/**
 * Locks are `proper-lockfile` locks: a `<target>.lock` folder made with `mkdir` (atomic on local
 * and network file systems, so they hold across processes and machines), its mtime refreshed while
 * held, and taken over once it is older than `stale` (its holder died, e.g. SIGKILL).
 */
const DOCUMENT_STALE_MS = 5_000;
/**
 * Operation locks are held (and refreshed) by a worker thread, so an operation that blocks the main
 * thread (a synchronous simulator call) keeps its lock; 30 s only matters once the holder is dead.
 * `VF_GROUPS_OPERATION_STALE_MS` (at least 2000, proper-lockfile's minimum) shortens it, for tests.
 */
export function operationStaleMs(env: NodeJS.ProcessEnv = process.env): number {
  const given = Number(env.VF_GROUPS_OPERATION_STALE_MS);
  return Number.isFinite(given) && given >= 2_000 ? given : 30_000;
}

// One shared word to sleep on: Atomics.wait is the only way to pause a synchronous call.
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `fn` holding the lock of `target`, waiting (synchronously, bounded by `timeoutMs`) while
 * another process or call holds it. Used by the synchronous job-document API, where read-modify-write
 * must not interleave. Throws `LOCKED` after the timeout.
 */
export function withLockSync<T>(target: string, what: string, fn: () => T, timeoutMs = 60_000): T {
  const deadline = Date.now() + timeoutMs;
  let release: (() => void) | undefined;
  for (let attempt = 0; release === undefined; attempt++) {
    try {
      // A document lock is held for milliseconds: losing it to staleness is not worth a crash.
      release = lockfile.lockSync(target, { realpath: false, stale: DOCUMENT_STALE_MS, onCompromised: () => {} });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      if (Date.now() > deadline) {
        throw new GroupsError('LOCKED', `${what} stayed locked for ${timeoutMs} ms (lock ${target}.lock); is another process stuck?`, {
          details: { lock: `${target}.lock` },
        });
      }
      Atomics.wait(sleeper, 0, 0, Math.min(2 + attempt, 25) + Math.random() * 5);
    }
  }
  try {
    return fn();
  } finally {
    release();
  }
}

/**
 * Takes the lock of `target` if it is free; resolves with its release, or undefined when another
 * process (or call) holds it. The lock is taken and refreshed by {@link lockKeeper}'s worker thread,
 * whose event loop runs while this thread's is blocked: the lock stays fresh under a synchronous
 * operation. `onCompromised` is called if the lock is lost while held (its folder removed or
 * changed by another process).
 */
export async function tryLock(target: string, onCompromised: (error: Error) => void): Promise<(() => Promise<void>) | undefined> {
  return lockKeeper().lock(target, operationStaleMs(), onCompromised);
}

type KeeperReply = { type: 'reply'; id: number; ok: boolean; code?: string; message?: string };
type KeeperEvent = KeeperReply | { type: 'compromised'; id: number; message: string };

// The worker's side, CommonJS evaluated as a string: a .ts file could not be loaded by a worker
// under the test runner or tsx, and this stays one small file after bundling.
const KEEPER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const lockfile = require(workerData.lockfile);
const releases = new Map();
const reply = (id, error) => parentPort.postMessage(error === undefined
  ? { type: 'reply', id, ok: true }
  : { type: 'reply', id, ok: false, code: error.code, message: error.message });
parentPort.on('message', async (message) => {
  if (message.type === 'lock') {
    try {
      const release = await lockfile.lock(message.target, {
        realpath: false,
        stale: message.stale,
        onCompromised: (error) => {
          releases.delete(message.id);
          parentPort.postMessage({ type: 'compromised', id: message.id, message: error.message });
        },
      });
      releases.set(message.id, release);
      reply(message.id);
    } catch (error) {
      reply(message.id, error);
    }
  } else {
    const release = releases.get(message.id);
    releases.delete(message.id);
    try {
      if (release !== undefined) await release();
      reply(message.id);
    } catch (error) {
      reply(message.id, error);
    }
  }
});
`;

/**
 * Holds locks in a worker thread (one per process, started on first use). The worker does not run
 * this thread's exit handlers, so this thread removes the lock folders it still holds, synchronously,
 * when the process exits, also by a signal (`signal-exit`).
 */
class LockKeeper {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (reply: KeeperReply) => void>();
  /** Lock folders held, by request id, and what to call if one is compromised. */
  readonly #held = new Map<number, { folder: string; onCompromised: (error: Error) => void }>();
  #nextId = 0;

  constructor() {
    this.#worker = new Worker(KEEPER_SOURCE, {
      eval: true,
      workerData: { lockfile: createRequire(import.meta.url).resolve('proper-lockfile') },
    });
    // Only a pending request keeps the process alive; a held lock does not (its holder's work does).
    this.#worker.unref();
    this.#worker.on('message', (event: KeeperEvent) => {
      if (event.type === 'compromised') {
        const held = this.#held.get(event.id);
        this.#held.delete(event.id);
        held?.onCompromised(new Error(event.message));
        return;
      }
      const resolve = this.#pending.get(event.id);
      this.#pending.delete(event.id);
      if (this.#pending.size === 0) this.#worker.unref();
      resolve?.(event);
    });
    this.#worker.on('error', (error) => {
      for (const resolve of this.#pending.values()) resolve({ type: 'reply', id: -1, ok: false, message: error.message });
      this.#pending.clear();
      keeper = undefined;
    });
    onExit(() => {
      for (const { folder } of this.#held.values()) rmSync(folder, { recursive: true, force: true });
    });
  }

  #request(message: { type: 'lock'; target: string; stale: number } | { type: 'release' }, id: number): Promise<KeeperReply> {
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#worker.ref();
      this.#worker.postMessage({ ...message, id });
    });
  }

  async lock(target: string, stale: number, onCompromised: (error: Error) => void): Promise<(() => Promise<void>) | undefined> {
    const id = this.#nextId++;
    const reply = await this.#request({ type: 'lock', target, stale }, id);
    if (!reply.ok) {
      if (reply.code === 'ELOCKED') return undefined;
      throw Object.assign(new Error(reply.message ?? 'the lock worker failed'), { code: reply.code });
    }
    // Only a lock taken is removed at exit: never one that another process holds.
    this.#held.set(id, { folder: `${target}.lock`, onCompromised });
    return async () => {
      if (!this.#held.delete(id)) return; // released already, or compromised (no longer ours)
      const released = await this.#request({ type: 'release' }, id);
      if (!released.ok && released.code !== 'ERELEASED') throw Object.assign(new Error(released.message), { code: released.code });
    };
  }
}

let keeper: LockKeeper | undefined;

/** The process's lock-holding worker thread. */
function lockKeeper(): LockKeeper {
  keeper ??= new LockKeeper();
  return keeper;
}

/** Takes the lock of `target`, retrying for up to about `timeoutMs`; throws `LOCKED` after that. */
export async function lockWithin(target: string, what: string, timeoutMs = 60_000): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const release = await tryLock(target, () => {});
    if (release !== undefined) return release;
    if (Date.now() > deadline) {
      throw new GroupsError('LOCKED', `${what} stayed locked for ${timeoutMs} ms (lock ${target}.lock); is another process stuck?`, {
        details: { lock: `${target}.lock` },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(20 * (attempt + 1), 500)));
  }
}
