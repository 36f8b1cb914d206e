import { constants } from 'node:fs';
import { lstat, open, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLogger, isLogLevelEnabled } from '../logging.js';
import { SHARED_MEMORY_ROOT } from '../transport/sharedFrames.js';
import { ownerIsGone, parseRunOwner, RUN_OWNER_FILE, RUN_OWNER_MAX_BYTES, type RunOwner } from './runOwner.js';

/**
 * `0` turns off the sweep of stale run directories (for instance to look at what a killed host left
 * in `/dev/shm`); anything else, or unset, leaves it on.
 */
export const SWEEP_STALE_RUNS_ENV = 'VF_SWEEP_STALE_RUNS';

/** A folder where run directories are made, and the names they have there. */
export interface RunRoot {
  readonly path: string;
  readonly names: RegExp;
}

/**
 * Where a host makes its run's directories: `mkdtemp(join(tmpdir(), 'vf-'))` (six characters) and
 * `createSharedDirectory` (32 hex digits). Only names a host makes are looked at: `/tmp/vf-demo` and
 * a test's `vf-faults-XXXXXX` are not even opened.
 */
export function defaultRunRoots(): readonly RunRoot[] {
  return [
    { path: tmpdir(), names: /^vf-[A-Za-z0-9]{6}$/ },
    ...(process.platform === 'linux' ? [{ path: SHARED_MEMORY_ROOT, names: /^vf-[0-9a-f]{32}$/ }] : []),
  ];
}

/** How a sweep looks; every field has a default. */
export interface SweepOptions {
  /** Default {@link defaultRunRoots}. */
  readonly roots?: readonly RunRoot[];
  /** Whether the process an owner file names is gone for sure. Default {@link ownerIsGone}. */
  readonly isGone?: (owner: RunOwner) => boolean;
}

/**
 * Removes the run directories whose host is gone: in each root, the entries named as a host names
 * them that are directories (not links to one) of this user, holding a regular owner file of this
 * user ({@link RUN_OWNER_FILE}) that names a process that is gone (`ownerIsGone`: its pid runs
 * nothing, or another process), and those that are empty and unchanged for {@link EMPTY_RUN_GRACE_MS}.
 * Anything else stays: no owner file (not a run's, or one being made), a live owner, this
 * process's own runs, another user's. Resolves with the directories removed;
 * never rejects.
 *
 * Each step waits for an unreferenced timer first: a sweep never keeps the process alive, and one
 * still going when the process would otherwise exit is abandoned. A directory's owner file goes
 * last, so a directory whose removal was cut short is still found by the next sweep.
 */
export async function sweepStaleRuns(options: SweepOptions = {}): Promise<readonly string[]> {
  const { roots = defaultRunRoots(), isGone = ownerIsGone } = options;
  const uid = process.getuid?.();
  // Without uids (Windows) nothing tells this user's directories from another's.
  if (uid === undefined) return [];
  const removed: string[] = [];
  for (const root of roots) {
    await laterTurn();
    let names: string[];
    try {
      names = await readdir(root.path);
    } catch {
      continue; // no such folder here
    }
    for (const name of names) {
      if (!root.names.test(name)) continue;
      await laterTurn();
      const directory = join(root.path, name);
      try {
        const stats = await lstat(directory);
        if (!stats.isDirectory() || stats.uid !== uid) continue;
        if (Date.now() - stats.mtimeMs >= EMPTY_RUN_GRACE_MS && (await removedIfEmpty(directory))) {
          removed.push(directory);
          continue;
        }
        const owner = await ownerOf(directory, uid);
        if (owner === undefined || !isGone(owner)) continue;
        await removeRun(directory);
        removed.push(directory);
      } catch {
        // gone meanwhile, or not ours to remove: the next directory
      }
    }
  }
  if (removed.length > 0 && isLogLevelEnabled('debug')) getLogger().debug({ directories: removed }, 'stale run directories removed');
  return removed;
}

/** The owner that the owner file in `directory` (one of user `uid`) names, if it is a valid owner file of that user. */
async function ownerOf(directory: string, uid: number): Promise<RunOwner | undefined> {
  // O_NOFOLLOW: a link is no owner file; O_NONBLOCK: opening a FIFO of that name must not wait for a writer.
  const file = await open(join(directory, RUN_OWNER_FILE), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const owned = await file.stat();
    if (!owned.isFile() || owned.uid !== uid || owned.size > RUN_OWNER_MAX_BYTES) return undefined;
    const buffer = Buffer.alloc(RUN_OWNER_MAX_BYTES);
    const { bytesRead } = await file.read(buffer, 0, RUN_OWNER_MAX_BYTES, 0);
    return parseRunOwner(buffer.toString('utf8', 0, bytesRead));
  } finally {
    await file.close();
  }
}

/**
 * How long an empty run directory (no owner file, nothing else) must have stayed unchanged before a
 * sweep removes it. A host writes the owner file right after making the directory, so a younger one
 * may be a run being made; an older one was left by a run whose owner file went first (its last
 * task removes the owner file, then the directory, and something came in between, later removed
 * by someone else) or by a host killed between the two steps.
 */
export const EMPTY_RUN_GRACE_MS = 60_000;

/** Removes `directory` if it is empty (`rmdir` removes nothing else: a run's owner file keeps it); true if it did. */
async function removedIfEmpty(directory: string): Promise<boolean> {
  try {
    await rmdir(directory);
    return true;
  } catch {
    return false;
  }
}

/** Removes a run directory whose owner is gone, its owner file last. */
async function removeRun(directory: string): Promise<void> {
  for (const name of await readdir(directory)) {
    if (name !== RUN_OWNER_FILE) await rm(join(directory, name), { recursive: true, force: true });
  }
  await rm(join(directory, RUN_OWNER_FILE), { force: true });
  await rmdir(directory);
}

/** Resolves on a later turn of the event loop, without keeping the process alive until then. */
function laterTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0).unref());
}

let started = false;

/**
 * Starts, once per process, a sweep of stale run directories ({@link sweepStaleRuns}) in the
 * background, unless `VF_SWEEP_STALE_RUNS=0`; returns whether it started one. The multi-process
 * engines call it once a run's tasks have started: it is off the start-up path, and it never keeps
 * the process alive.
 */
export function sweepStaleRunsInBackground(env: NodeJS.ProcessEnv = process.env, sweep: () => Promise<unknown> = sweepStaleRuns): boolean {
  if (started || env[SWEEP_STALE_RUNS_ENV] === '0') return false;
  started = true;
  sweep().catch(() => undefined);
  return true;
}
