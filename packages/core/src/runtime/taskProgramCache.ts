import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLogger } from '../logging.js';

/**
 * Where compiled task programs are kept between host processes: a folder path, or `off` for no
 * cache. Default: `node_modules/.cache/vf/task-programs` in the nearest folder above the flow module
 * that has a `node_modules` (where its dependencies are installed), no cache when there is none.
 */
export const TASK_PROGRAM_CACHE_ENV = 'VF_TASK_PROGRAM_CACHE';

/** How many compiled programs the cache keeps (the most recently used; each a MB or two). */
export const KEPT_CACHED_PROGRAMS = 8;

/** Bumped whenever what an entry holds, or how a program is compiled, changes: older entries are never read. */
const FORMAT = 2;

/** Names a file of V8's code cache for a task program (`native/loadTaskProgram.cjs`). */
const CODE_CACHE_SUFFIX = '.v8';

/** A temporary file older than this was left by a writer that died: pruning removes it. */
const STALE_TEMPORARY_MS = 10 * 60_000;

/** A compiled task program as the cache stores it (see `taskProgram.ts`). */
export interface CachedProgram {
  /** Every file the compiler read, by absolute path, with the hash of its contents then. */
  readonly inputs: ReadonlyMap<string, string>;
  /** The program's files by name: the program and its source map. */
  readonly files: ReadonlyMap<string, string>;
}

/** What one cache file holds (JSON). `digest` covers the rest: a torn, truncated or edited entry does not match it. */
interface Entry {
  readonly format: number;
  readonly key: string;
  readonly inputs: ReadonlyArray<readonly [string, string]>;
  readonly files: ReadonlyArray<readonly [string, string]>;
  readonly digest: string;
}

/**
 * The cache folder for a program whose first module is `moduleUrl` (see
 * {@link TASK_PROGRAM_CACHE_ENV}); undefined when there is to be no cache.
 */
export function taskProgramCacheDir(moduleUrl: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env[TASK_PROGRAM_CACHE_ENV];
  if (setting === 'off') return undefined;
  if (setting !== undefined && setting !== '') return setting;
  if (!moduleUrl.startsWith('file:')) return undefined;
  for (let dir = dirname(fileURLToPath(moduleUrl)); ; dir = dirname(dir)) {
    if (isDirectory(join(dir, 'node_modules'))) return join(dir, 'node_modules', '.cache', 'vf', 'task-programs');
    if (dirname(dir) === dir) return undefined;
  }
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** The file an entry for `key` lives in: the key can be long, and holds paths. */
function entryFile(cacheDir: string, key: string): string {
  return join(cacheDir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
}

function digestOf(key: string, inputs: Entry['inputs'], files: Entry['files']): string {
  return createHash('sha256')
    .update(JSON.stringify([FORMAT, key, inputs, files]))
    .digest('hex');
}

/**
 * The program cached under `key`, or undefined when there is none or it cannot be trusted: an entry
 * whose digest does not match its contents (torn, truncated, edited), written for another key or
 * format, or a file or folder another user could have written. Whether its inputs are unchanged
 * is the caller's check.
 */
export async function readCachedProgram(cacheDir: string, key: string): Promise<CachedProgram | undefined> {
  const file = entryFile(cacheDir, key);
  try {
    if (!(await ownedAndPrivate(cacheDir, true)) || !(await ownedAndPrivate(file, false))) return undefined;
    const entry = JSON.parse(await readFile(file, 'utf8')) as Entry;
    if (entry.format !== FORMAT || entry.key !== key || entry.digest !== digestOf(key, entry.inputs, entry.files)) {
      getLogger().debug({ file }, 'a cached task program does not match its digest: it is compiled again');
      return undefined;
    }
    // Most recently used last to go (see `prune`).
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined);
    return { inputs: new Map(entry.inputs), files: new Map(entry.files) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      getLogger().debug({ err: error, file }, 'a cached task program could not be read: it is compiled again');
    }
    return undefined;
  }
}

/**
 * Stores `program` under `key`: written to a temporary file (mode 0600) renamed into place, so that
 * concurrent hosts never read a torn entry (the last rename wins, each whole), in a folder of mode
 * 0700; then only the {@link KEPT_CACHED_PROGRAMS} most recently used entries are kept. A cache that
 * cannot be written is no error: the next host compiles again.
 */
export async function writeCachedProgram(cacheDir: string, key: string, program: CachedProgram): Promise<void> {
  const file = entryFile(cacheDir, key);
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(cacheDir, { recursive: true, mode: 0o700 });
    if (!(await ownedAndPrivate(cacheDir, true))) return;
    const inputs = [...program.inputs];
    const files = [...program.files];
    const entry: Entry = { format: FORMAT, key, inputs, files, digest: digestOf(key, inputs, files) };
    await writeFile(temporary, JSON.stringify(entry), { mode: 0o600, flag: 'wx' });
    await rename(temporary, file);
    await prune(cacheDir);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    getLogger().debug({ err: error, cacheDir }, 'the task program could not be cached: the next host compiles it again');
  }
}

/**
 * The name of V8's code cache for the program whose text is `program`: a hash of the whole text,
 * for V8 checks a cache only against the source's length, and would run a stale one for a program
 * of the same length. Hashing a program takes ~1 ms: a caller reusing a program keeps its name.
 */
export function codeCacheName(program: string): string {
  return `${createHash('sha256').update(program).digest('hex').slice(0, 32)}${CODE_CACHE_SUFFIX}`;
}

/**
 * The file in `cacheDir` where the tasks of a program keep V8's code cache for it, `name` from
 * {@link codeCacheName} (`native/loadTaskProgram.cjs` reads and writes it; {@link prune} keeps the
 * {@link KEPT_CACHED_PROGRAMS} most recently handed out). Handing it out marks it used (a file not
 * there yet: nothing to mark).
 */
export async function codeCacheFile(cacheDir: string, name: string): Promise<string> {
  const file = join(cacheDir, name);
  const now = new Date();
  await utimes(file, now, now).catch(() => undefined);
  return file;
}

/**
 * Whether `path` is ours and closed to others (a folder: mode 0700, tightened when it is ours; a file:
 * not writable by others): an entry someone else could have written is not run.
 */
async function ownedAndPrivate(path: string, folder: boolean): Promise<boolean> {
  const stats = await lstat(path);
  const uid = process.getuid?.();
  if (folder !== stats.isDirectory() || (!folder && !stats.isFile())) return false;
  if (uid !== undefined && stats.uid !== uid) return false;
  if (folder && (stats.mode & 0o077) !== 0) {
    await chmod(path, 0o700);
    return true;
  }
  return (stats.mode & 0o022) === 0;
}

async function prune(cacheDir: string): Promise<void> {
  const now = Date.now();
  const entries = await Promise.all(
    (await readdir(cacheDir))
      .filter((name) => name.endsWith('.json') || name.endsWith(CODE_CACHE_SUFFIX) || name.endsWith('.tmp'))
      .map(async (name) => {
        const path = join(cacheDir, name);
        return { path, name, mtimeMs: (await stat(path).catch(() => undefined))?.mtimeMs };
      }),
  );
  const stale = entries.filter(
    (entry) => entry.name.endsWith('.tmp') && entry.mtimeMs !== undefined && now - entry.mtimeMs > STALE_TEMPORARY_MS,
  );
  // Programs and code caches each: the most recently used kept.
  const old = ['.json', CODE_CACHE_SUFFIX].flatMap((suffix) =>
    entries
      .filter((entry) => entry.name.endsWith(suffix) && entry.mtimeMs !== undefined)
      .sort((a, b) => (b.mtimeMs as number) - (a.mtimeMs as number))
      .slice(KEPT_CACHED_PROGRAMS),
  );
  await Promise.all([...stale, ...old].map(async (entry) => rm(entry.path, { force: true })));
}
