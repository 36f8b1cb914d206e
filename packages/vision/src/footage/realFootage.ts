import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { VfError } from '@vf/core';

/** Error code of {@link FootageError}. */
export const FOOTAGE_UNAVAILABLE = 'FOOTAGE_UNAVAILABLE';

/** apt is present but the clip could not be fetched or extracted (network, disk, a changed package). */
export class FootageError extends VfError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(FOOTAGE_UNAVAILABLE, message, options);
    this.name = 'FootageError';
  }
}

/** The clips Debian's `opencv-doc` package ships in `/usr/share/doc/opencv-doc/examples/data/`. */
export type FootageClip = 'vtest.avi' | 'Megamind.avi' | 'tree.avi';

/** Options of {@link realFootage}. */
export interface RealFootageOptions {
  /** Where the extracted clip is kept between runs. Default: {@link defaultFootageCacheDir}. */
  readonly cacheDir?: string;
  /** Progress lines (the download takes a few seconds). Default: none. */
  readonly log?: (line: string) => void;
  /** Environment (its `PATH` decides whether apt is present). Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/** What {@link realFootage} found: the clip's path, or why there is none on this machine. */
export type RealFootage = { readonly path: string; readonly fetched: boolean } | { readonly unavailable: string };

const DEB_DIR = './usr/share/doc/opencv-doc/examples/data/';

/**
 * Real footage for tests and demos: `vtest.avi` (people walking in a mall, 768×576, 10 fps, 795
 * frames, 8 MB) and its siblings from Debian's `opencv-doc` package, fetched once with `apt-get
 * download opencv-doc` (96 MB, no install, no root once apt's lists exist) into a temporary
 * directory, the one clip extracted from the package's data archive, and kept in `cacheDir`.
 *
 * Resolves `{ unavailable }` (with the reason) only when apt is absent: elsewhere a clip that
 * cannot be had is a failure, {@link FootageError} (`FOOTAGE_UNAVAILABLE`). When apt has no package
 * lists yet it runs `apt-get update` first (which needs root).
 */
export async function realFootage(clip: FootageClip = 'vtest.avi', options: RealFootageOptions = {}): Promise<RealFootage> {
  const env = options.env ?? process.env;
  const cacheDir = options.cacheDir ?? defaultFootageCacheDir();
  const cached = join(cacheDir, clip);
  if (existsSync(cached)) return { path: cached, fetched: false };
  if (!onPath('apt-get', env) || !onPath('dpkg-deb', env)) {
    return { unavailable: `apt-get/dpkg-deb are not on PATH, so Debian's opencv-doc (which ships ${clip}) cannot be fetched` };
  }
  const log = options.log ?? (() => undefined);
  const work = mkdtempSync(join(tmpdir(), 'vf-footage-'));
  try {
    log(`fetching ${clip}: apt-get download opencv-doc (about 96 MB, once; cached in ${cacheDir})`);
    try {
      await run('apt-get', ['download', 'opencv-doc'], { cwd: work });
    } catch (error) {
      // A fresh container has no package lists: `apt-get download` then knows no package at all.
      log(`apt-get download failed (${(error as Error).message}); running apt-get update first`);
      try {
        await run('apt-get', ['update'], { cwd: work });
        await run('apt-get', ['download', 'opencv-doc'], { cwd: work });
      } catch (retryError) {
        throw new FootageError(`cannot download Debian's opencv-doc for ${clip}: ${(retryError as Error).message}`, { cause: retryError });
      }
    }
    const deb = readdirSync(work).find((name) => name.startsWith('opencv-doc_') && name.endsWith('.deb'));
    if (deb === undefined) throw new FootageError(`apt-get download opencv-doc left no .deb in ${work}`);
    // `dpkg-deb --fsys-tarfile | tar -x <member>`: `dpkg -x` would unpack the whole documentation
    // (hundreds of MB of HTML) to get one 8 MB file.
    try {
      await extract(join(work, deb), `${DEB_DIR}${clip}`, work);
    } catch (error) {
      throw new FootageError(`cannot extract ${clip} from ${deb}: ${(error as Error).message}`, { cause: error });
    }
    mkdirSync(cacheDir, { recursive: true });
    // Rename within the cache directory, so a concurrent reader never sees half a file.
    const partial = join(cacheDir, `.${clip}.${process.pid}.partial`);
    renameSync(join(work, DEB_DIR, clip), partial);
    renameSync(partial, cached);
    return { path: cached, fetched: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * `VF_FOOTAGE_CACHE` when set, else `node_modules/.cache/vf-footage` in the workspace root (the
 * nearest directory above `from` with a `pnpm-workspace.yaml`), else in the nearest directory with a
 * `node_modules`, else in the system's temporary directory.
 */
export function defaultFootageCacheDir(from: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  if (env.VF_FOOTAGE_CACHE !== undefined && env.VF_FOOTAGE_CACHE !== '') return env.VF_FOOTAGE_CACHE;
  const root = findUp(from, 'pnpm-workspace.yaml') ?? findUp(from, 'node_modules');
  return join(root ?? tmpdir(), 'node_modules', '.cache', 'vf-footage');
}

function findUp(from: string, entry: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, entry))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)));
}

function run(command: string, args: readonly string[], options: { cwd: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      // apt warns (W:) when it downloads as root outside _apt's reach; only E: lines are failures.
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`));
    });
  });
}

function extract(deb: string, member: string, into: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const unpack = spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-C', into, member], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    for (const child of [unpack, tar]) {
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-2000);
      });
      child.on('error', reject);
    }
    unpack.stdout.pipe(tar.stdin);
    // tar may stop reading once it has the member: the writer's EPIPE is expected then.
    tar.stdin.on('error', () => undefined);
    tar.on('close', (code) => {
      if (code === 0 && existsSync(join(into, member))) resolve();
      else reject(new Error(`tar exited with ${code}: ${stderr.trim()}`));
    });
  });
}
