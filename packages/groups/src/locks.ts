import lockfile from 'proper-lockfile';
import { GroupsError } from './errors.js';

/**
 * Locks are `proper-lockfile` locks: a `<target>.lock` folder made with `mkdir` (atomic on local
 * and network file systems, so they hold across processes and machines), its mtime refreshed while
 * held, and taken over once it is older than `stale` (its holder died, e.g. SIGKILL).
 */
const DOCUMENT_STALE_MS = 5_000;
/** Operations can block the event loop for a while (a sync computation): give them a wider margin. */
const OPERATION_STALE_MS = 30_000;

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
 * process (or call) holds it. `onCompromised` is called if the lock is lost while held (its folder
 * removed, or not refreshed within the stale time because the event loop was blocked).
 */
export async function tryLock(target: string, onCompromised: (error: Error) => void): Promise<(() => Promise<void>) | undefined> {
  try {
    return await lockfile.lock(target, { realpath: false, stale: OPERATION_STALE_MS, onCompromised });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
    throw error;
  }
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
