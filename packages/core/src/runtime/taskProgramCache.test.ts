import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CachedProgram,
  codeCacheFile,
  codeCacheName,
  KEPT_CACHED_PROGRAMS,
  readCachedProgram,
  TASK_PROGRAM_CACHE_ENV,
  taskProgramCacheDir,
  writeCachedProgram,
} from './taskProgramCache.js';

const program = (text: string): CachedProgram => ({
  inputs: new Map([['/somewhere/flow.ts', 'hash-of-flow']]),
  files: new Map([
    ['task.mjs', text],
    ['task.mjs.map', '{"version":3}'],
  ]),
});

describe('the task program cache', () => {
  let dir: string;
  let cache: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vf-program-cache-'));
    cache = join(dir, 'node_modules', '.cache', 'vf', 'task-programs');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const entries = () => readdirSync(cache).sort();

  it('gives back what was stored under the same key, in a private folder and file, and nothing under another key', async () => {
    await writeCachedProgram(cache, 'key-a', program('console.log(1);'));
    expect(await readCachedProgram(cache, 'key-a')).toEqual(program('console.log(1);'));
    expect(await readCachedProgram(cache, 'key-b')).toBeUndefined();
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    const [file] = entries() as [string];
    expect(file).toMatch(/\.json$/);
    expect(statSync(join(cache, file)).mode & 0o777).toBe(0o600);
  });

  it('refuses an entry whose contents were changed, cut short, or made writable by others', async () => {
    await writeCachedProgram(cache, 'key', program('console.log("trusted");'));
    const file = join(cache, entries()[0] as string);
    const whole = readFileSync(file, 'utf8');
    writeFileSync(file, whole.replace('trusted', 'tampered'), { mode: 0o600 });
    expect(await readCachedProgram(cache, 'key')).toBeUndefined();
    writeFileSync(file, whole.slice(0, whole.length / 2));
    expect(await readCachedProgram(cache, 'key')).toBeUndefined();
    writeFileSync(file, whole);
    expect(await readCachedProgram(cache, 'key')).toEqual(program('console.log("trusted");'));
    chmodSync(file, 0o666);
    expect(await readCachedProgram(cache, 'key')).toBeUndefined();
  });

  it(`keeps the ${KEPT_CACHED_PROGRAMS} most recently used entries`, async () => {
    const total = KEPT_CACHED_PROGRAMS + 2;
    for (let index = 0; index < total; index++) {
      await writeCachedProgram(cache, `key-${index}`, program(`// ${index}`));
      // Distinct modification times, oldest first, whatever the file system's time resolution.
      const newest = entries()
        .map((name) => join(cache, name))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0] as string;
      const when = new Date(Date.now() - (total - index) * 60_000);
      utimesSync(newest, when, when);
    }
    // The two oldest went; reading key-2 (now the oldest) makes it the most recent, so the next write drops key-3 instead.
    expect(entries()).toHaveLength(KEPT_CACHED_PROGRAMS);
    expect(await readCachedProgram(cache, 'key-0')).toBeUndefined();
    expect(await readCachedProgram(cache, 'key-1')).toBeUndefined();
    expect(await readCachedProgram(cache, 'key-2')).toBeDefined();
    await writeCachedProgram(cache, 'key-last', program('// last'));
    expect(entries()).toHaveLength(KEPT_CACHED_PROGRAMS);
    expect(await readCachedProgram(cache, 'key-2')).toBeDefined();
    expect(await readCachedProgram(cache, 'key-3')).toBeUndefined();
  });

  it(`keeps the ${KEPT_CACHED_PROGRAMS} code caches most recently handed out, apart from the programs`, async () => {
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    const total = KEPT_CACHED_PROGRAMS + 2;
    const files: string[] = [];
    for (let index = 0; index < total; index++) {
      // As a task leaves one: then handed out again (marked used), oldest first.
      const file = await codeCacheFile(cache, codeCacheName(`program ${index}`));
      writeFileSync(file, 'v8', { mode: 0o600 });
      const when = new Date(Date.now() - (total - index) * 60_000);
      utimesSync(file, when, when);
      files.push(file);
    }
    expect(await codeCacheFile(cache, codeCacheName('program 0'))).toBe(files[0]);
    expect(await codeCacheFile(cache, codeCacheName('program 1 '))).not.toBe(files[1]);
    await writeCachedProgram(cache, 'key', program('// one'));
    const left = entries().filter((name) => name.endsWith('.v8'));
    expect(left).toHaveLength(KEPT_CACHED_PROGRAMS);
    // Handing program 0's out again made it the most recent: programs 1 and 2 went.
    expect(left).toContain(files[0]?.split('/').pop());
    expect(left).not.toContain(files[1]?.split('/').pop());
    expect(left).not.toContain(files[2]?.split('/').pop());
    expect(entries().filter((name) => name.endsWith('.json'))).toHaveLength(1);
  });

  it('is node_modules/.cache/vf/task-programs where the flow has node_modules, the variable when set, none when off or nowhere', () => {
    const flow = join(dir, 'src', 'flows', 'flow.ts');
    mkdirSync(join(dir, 'src', 'flows'), { recursive: true });
    mkdirSync(join(dir, 'node_modules'));
    expect(taskProgramCacheDir(pathToFileURL(flow).href, {})).toBe(cache);
    expect(taskProgramCacheDir(pathToFileURL(flow).href, { [TASK_PROGRAM_CACHE_ENV]: '/elsewhere' })).toBe('/elsewhere');
    expect(taskProgramCacheDir(pathToFileURL(flow).href, { [TASK_PROGRAM_CACHE_ENV]: 'off' })).toBeUndefined();
    expect(taskProgramCacheDir('data:text/javascript,export default 1', {})).toBeUndefined();
  });

  it('stores nothing, and fails nothing, where the folder cannot be created', async () => {
    writeFileSync(join(dir, 'file'), '');
    const impossible = join(dir, 'file', 'cache');
    await writeCachedProgram(impossible, 'key', program('// x'));
    expect(await readCachedProgram(impossible, 'key')).toBeUndefined();
  });
});
