import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getLogger, isLogLevelEnabled } from '../logging.js';
import { zeromq } from '../transport/zeromq.js';
import { loadEsbuild } from './esbuild.js';
import {
  type CachedProgram,
  codeCacheFile,
  codeCacheName,
  readCachedProgram,
  taskProgramCacheDir,
  writeCachedProgram,
} from './taskProgramCache.js';

// The task runtime sits beside this module: `.ts` when vf runs from source, one built file otherwise.
const fromSource = import.meta.url.endsWith('.ts');
const runtimeEntry = fileURLToPath(new URL(fromSource ? './taskProgramEntry.ts' : './taskProgram.js', import.meta.url));

/**
 * Names the compiled file of a run's task program, and its source map beside it (`.map`): CommonJS,
 * which tasks run through V8's code cache (`native/loadTaskProgram.cjs`), or an ES module where a
 * module awaits at its top level (CommonJS cannot).
 */
export const TASK_PROGRAM_FILES = { commonjs: 'task.cjs', module: 'task.mjs' } as const;

/** A run's compiled task program. */
export interface TaskProgram {
  /** The program's file, in the run directory. */
  readonly path: string;
  /**
   * Where its tasks find, or leave, V8's code cache for it (`native/loadTaskProgram.cjs`): a CommonJS
   * program with a cache folder (`taskProgramCache.ts`) only.
   */
  readonly codeCache?: string;
}

/** Where a bundled file's own `import.meta` values are kept (see `keepImportMeta`). */
const META = { url: '__vfImportMetaUrl', dirname: '__vfImportMetaDirname', filename: '__vfImportMetaFilename' } as const;

/** The name esbuild gives the generated entry (it is no file: its contents are the modules' URLs, part of the cache key). */
const ENTRY_NAME = 'vf-task-program.js';

/** Programs compiled in this process (the shape the on-disk cache keeps too), by what they were compiled from, least recently used first. */
const compiled = new Map<string, CachedProgram>();

/** How many programs {@link compiled} keeps (each a few MB: a test suite runs many flows in one process). */
const KEPT_PROGRAMS = 4;

const LOADERS: Readonly<Record<string, 'ts' | 'tsx' | 'js' | 'jsx'>> = {
  '.ts': 'ts',
  '.mts': 'ts',
  '.cts': 'ts',
  '.tsx': 'tsx',
  '.js': 'js',
  '.mjs': 'js',
  '.cjs': 'js',
  '.jsx': 'jsx',
};

/**
 * Compiles, once per run in the host, the program every local task process runs: vf's task runtime,
 * the flow module with the local files it imports (TypeScript included), and the engine's
 * messenger module, in one JavaScript file with a source map. Task processes then start on plain
 * `node` — no TypeScript loader, one file to read — which is most of a task's start-up time.
 *
 * Installed CommonJS packages stay outside, imported by absolute URL (a native addon cannot be
 * bundled), but for zeromq's JavaScript (`bundledZeromq`); installed ES module packages go in (see
 * `staysOutside`). Each bundled file keeps its own `import.meta.url` (paths relative to a module
 * still resolve beside its source), and classes and functions keep their names (node names default
 * to class names and must match the host's). The modules are imported lazily, from `Flow.load` and
 * the messenger import, so errors in them reach the host as they would without a program.
 *
 * A process that runs the same flow again (a service, a test suite, a benchmark) reuses the program
 * it compiled last time when no file esbuild read has changed since (their contents are hashed and
 * compared: a few ms, against hundreds for a build). So does a new host process, from the on-disk
 * cache (`taskProgramCache.ts`: `node_modules/.cache/vf/task-programs` beside the flow, or
 * `VF_TASK_PROGRAM_CACHE`), whose entries are checked against their digest and their inputs' hashes.
 *
 * Resolves with the program's path, or undefined when a module cannot be compiled this way (not a
 * file, TypeScript inside an installed package, or esbuild refuses it): the tasks then load the
 * modules as before.
 */
export async function buildTaskProgram(dir: string, moduleUrls: readonly string[]): Promise<TaskProgram | undefined> {
  if (!moduleUrls.every((url) => url.startsWith('file:'))) return undefined;
  // A module that stays outside the program must run on plain node.
  if (moduleUrls.some((url) => /\.[cm]?tsx?$/.test(url) && staysOutside(fileURLToPath(url)))) return undefined;
  // The source map names sources relative to the program's directory: a run directory elsewhere needs its own build.
  const key = JSON.stringify([dirname(dir), moduleUrls]);
  const cacheDir = taskProgramCacheDir(moduleUrls[0] ?? '');
  const reusable = compiled.get(key);
  compiled.delete(key);
  if (reusable !== undefined && unchanged(reusable.inputs)) {
    compiled.set(key, reusable);
    return writeProgram(dir, reusable, cacheDir);
  }
  const modules = moduleUrls.map((url) => `  ${JSON.stringify(url)}: () => import(${JSON.stringify(fileURLToPath(url))}),`);
  const contents = [
    `import { mapProgramStackTraces, registerBundledModules, registerBundledPackages, runTaskProcess } from ${JSON.stringify(runtimeEntry)};`,
    // Under `native/loadTaskProgram.cjs`, the name its frames carry (that of its code cache).
    "mapProgramStackTraces(process.argv[1], typeof __vfScriptName === 'string' ? __vfScriptName : undefined);",
    `registerBundledModules({\n${modules.join('\n')}\n});`,
    `registerBundledPackages({ zeromq: () => require(${JSON.stringify(ZEROMQ_MODULE)}) });`,
    'runTaskProcess(undefined, process.argv[1]);',
  ].join('\n');
  // The entry names the runtime and the modules; the inputs' hashes, checked on a hit, cover their contents.
  const cacheKey = JSON.stringify([esbuildVersion(), dirname(dir), contents]);
  const cached = cacheDir === undefined ? undefined : await readCachedProgram(cacheDir, cacheKey);
  if (cached !== undefined && unchanged(cached.inputs)) {
    if (isLogLevelEnabled('debug')) getLogger().debug({ cacheDir }, 'task program: taken from the cache');
    keep(key, cached);
    return writeProgram(dir, cached, cacheDir);
  }
  try {
    const started = performance.now();
    const esbuild = loadEsbuild();
    // CommonJS; where esbuild refuses it (a module awaits at its top level, which CommonJS cannot
    // hold), an ES module. Any refusal takes the second try: a module broken for both is built twice.
    const result = await compile(esbuild, 'commonjs', dir, contents).catch(() => compile(esbuild, 'module', dir, contents));
    const files = new Map(result.outputFiles.map((file) => [basename(file.path), file.text]));
    const program = { inputs: hashInputs(Object.keys(result.metafile.inputs)), files };
    if (isLogLevelEnabled('debug')) getLogger().debug({ ms: Math.round(performance.now() - started) }, 'task program: compiled');
    keep(key, program);
    const [written] = await Promise.all([
      writeProgram(dir, program, cacheDir),
      cacheDir === undefined ? undefined : writeCachedProgram(cacheDir, cacheKey, program),
    ]);
    return written;
  } catch (error) {
    getLogger().debug({ err: error }, 'the task program could not be compiled: tasks load the flow module themselves');
    return undefined;
  }
}

/** Bundles the generated entry `contents` into `format` (see {@link buildTaskProgram}); rejects when esbuild refuses. */
function compile(esbuild: ReturnType<typeof loadEsbuild>, format: keyof typeof TASK_PROGRAM_FILES, dir: string, contents: string) {
  const commonjs = format === 'commonjs';
  // `require()` takes a path; an ES module's `import` a URL.
  const externalPath = (path: string, kind: string) => (commonjs || kind === 'require-call' ? path : pathToFileURL(path).href);
  return esbuild.build({
    // Not the run directory itself: a program compiled for one run serves the next one unchanged.
    stdin: { contents, resolveDir: dirname(dir), sourcefile: ENTRY_NAME, loader: 'js' },
    outfile: join(dir, TASK_PROGRAM_FILES[format]),
    bundle: true,
    platform: 'node',
    format: commonjs ? 'cjs' : 'esm',
    target: 'node20',
    conditions: fromSource ? ['@vf/source'] : [],
    // Node runs every module a flow imports, whatever a package's `sideEffects` field says: so does the program.
    ignoreAnnotations: true,
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    write: false,
    metafile: true,
    define: { 'import.meta.url': META.url, 'import.meta.dirname': META.dirname, 'import.meta.filename': META.filename },
    // A bundled ES module package may `require()` (through `createRequire`, which esbuild turns into its
    // `__require`): give that a real `require`, as Node would have given the package (CommonJS has one).
    ...(commonjs
      ? {}
      : {
          banner: {
            js: "import { createRequire as __vfCreateRequire } from 'node:module'; const require = __vfCreateRequire(import.meta.url);",
          },
        }),
    logLevel: 'silent',
    plugins: [
      {
        name: 'vf-task-program',
        setup(build) {
          // zeromq's JavaScript goes in, with its addon loaded by path (`bundledZeromq`).
          build.onResolve({ filter: /^vf:zeromq$/ }, () => ({ path: ZEROMQ_MODULE, namespace: PROGRAM_NAMESPACE }));
          build.onLoad({ filter: /^vf:zeromq$/, namespace: PROGRAM_NAMESPACE }, () => ({
            contents: bundledZeromq(),
            loader: 'js',
            resolveDir: tmpdir(),
          }));
          build.onLoad({ filter: /[\\/]zeromq[\\/]lib[\\/]load-addon\.js$/ }, (args) => {
            const files = zeromqFiles();
            if (files === undefined || args.path !== join(files.lib, 'load-addon.js')) return undefined;
            return { contents: `exports.__esModule = true;\nexports.default = require(${JSON.stringify(files.addon)});\n`, loader: 'js' };
          });
          // Bare specifiers only, `node:` built-ins aside (relative imports stay within the bundle); Go's regexps have no lookahead.
          build.onResolve({ filter: /^(?:[^./n]|n[^o]|no[^d]|nod[^e]|node[^:])/ }, async (args) => {
            if (args.kind === 'entry-point' || args.pluginData === 'vf-resolving') return undefined;
            const resolved = await build.resolve(args.path, {
              kind: args.kind,
              resolveDir: args.resolveDir,
              importer: args.importer,
              pluginData: 'vf-resolving',
            });
            if (resolved.errors.length > 0 || resolved.external) return resolved.errors.length > 0 ? { errors: resolved.errors } : resolved;
            if (!staysOutside(resolved.path) || inZeromqLib(resolved.path)) return resolved;
            return { path: externalPath(resolved.path, args.kind), external: true };
          });
          // The entry names vf's runtime, the flow and the messenger by path: installed ones follow the same rule.
          build.onResolve({ filter: /[\\/]node_modules[\\/]/ }, (args) =>
            isAbsolute(args.path) && staysOutside(args.path) && !inZeromqLib(args.path)
              ? { path: externalPath(args.path, args.kind), external: true }
              : undefined,
          );
          build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => ({
            contents: keepImportMeta(await readFile(args.path, 'utf8'), args.path),
            loader: LOADERS[/\.[^.]+$/.exec(args.path)?.[0] ?? '.js'] ?? 'js',
          }));
        },
      },
    ],
  });
}

/** esbuild's namespace for the modules the program makes up itself (no files: `hashInputs` skips them). */
const PROGRAM_NAMESPACE = 'vf';

/** The module of the program that holds zeromq (see {@link bundledZeromq}). */
const ZEROMQ_MODULE = 'vf:zeromq';

/** zeromq's files, as a program holds them: its `lib/` folder, its entry there, and the addon this host loads. */
interface ZeromqFiles {
  readonly lib: string;
  readonly index: string;
  readonly addon: string;
}

let foundZeromq: ZeromqFiles | null | undefined;

/**
 * zeromq as this host loads it, or undefined where its files cannot be told (the program then
 * leaves it to Node's `require`). The addon is the one its loader (cmake-ts) picked here, from a
 * manifest, by platform, architecture, C library and ABI: local tasks run this same node binary.
 */
function zeromqFiles(): ZeromqFiles | undefined {
  if (foundZeromq === undefined) {
    foundZeromq = null;
    try {
      const require = createRequire(import.meta.url);
      const index = require.resolve('zeromq');
      zeromq();
      const build = join(dirname(dirname(index)), 'build') + sep;
      const addon = Object.keys(require.cache).find((file) => file.startsWith(build) && file.endsWith('.node'));
      const lib = dirname(index) + sep;
      if (addon !== undefined) foundZeromq = { lib, index, addon };
    } catch {
      // no zeromq here: tasks load it, or fail to, as without a program
    }
  }
  return foundZeromq ?? undefined;
}

/** Whether `path` is one of zeromq's JavaScript files, which a program holds. */
function inZeromqLib(path: string): boolean {
  const files = zeromqFiles();
  return files !== undefined && path.startsWith(files.lib);
}

/**
 * The program's `vf:zeromq`: zeromq's JavaScript, its addon required by path. Node's loader took
 * ~14 ms of CPU per task to find and compile the same files (resolving zeromq, then cmake-ts's
 * package exports, reading its manifest): in the program they come from V8's code cache with the
 * rest. An addon that no longer loads there (zeromq rebuilt in place) leaves zeromq to `require`.
 */
function bundledZeromq(): string {
  const files = zeromqFiles();
  if (files === undefined) return 'module.exports = undefined;';
  return `try {\n  module.exports = require(${JSON.stringify(files.index)});\n} catch {\n  module.exports = undefined;\n}\n`;
}

/** Keeps `program` for this process's next run of the same modules, the {@link KEPT_PROGRAMS} most recent. */
function keep(key: string, program: CachedProgram): void {
  compiled.set(key, program);
  for (const old of [...compiled.keys()].slice(0, -KEPT_PROGRAMS)) compiled.delete(old);
}

/** esbuild's version, without loading esbuild (tens of ms): a program compiled by another version is compiled again. */
function esbuildVersion(): string {
  try {
    return (createRequire(import.meta.url)('esbuild/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Per program, the name of its code cache: hashed once, not again by every run that reuses the program. */
const codeCacheNames = new WeakMap<CachedProgram, string>();

async function writeProgram(dir: string, program: CachedProgram, cacheDir: string | undefined): Promise<TaskProgram> {
  await Promise.all([...program.files].map(([name, text]) => writeFile(join(dir, name), text)));
  const commonjs = program.files.get(TASK_PROGRAM_FILES.commonjs);
  if (commonjs === undefined) return { path: join(dir, TASK_PROGRAM_FILES.module) };
  const path = join(dir, TASK_PROGRAM_FILES.commonjs);
  if (cacheDir === undefined) return { path };
  let name = codeCacheNames.get(program);
  if (name === undefined) {
    name = codeCacheName(commonjs);
    codeCacheNames.set(program, name);
  }
  return { path, codeCache: await codeCacheFile(cacheDir, name) };
}

/**
 * The files esbuild read (`metafile.inputs`: paths relative to the working directory). The generated
 * entry and the modules of {@link PROGRAM_NAMESPACE} (listed as `vf:<path>`) are no files: what they
 * hold follows from the entry's text, part of the cache key, and from the files.
 */
function hashInputs(inputs: readonly string[]): Map<string, string> {
  const files = inputs
    .filter((input) => basename(input) !== ENTRY_NAME && !input.startsWith(`${PROGRAM_NAMESPACE}:`))
    .map((input) => resolve(input));
  // A file gone already ('') never matches again: the next run compiles anew.
  return new Map(files.map((file) => [file, hashFile(file) ?? '']));
}

/**
 * Read inline, not through `fs/promises`: a program has ~80 small inputs, and a round trip through
 * libuv's thread pool per open, read and close made the check 3-5x slower (it runs before any task starts).
 */
function hashFile(file: string): string | undefined {
  try {
    return createHash('sha1').update(readFileSync(file)).digest('base64');
  } catch {
    return undefined; // gone: the program is stale
  }
}

/** Whether every input still holds what it held when the program was compiled. */
function unchanged(inputs: ReadonlyMap<string, string>): boolean {
  for (const [file, hash] of inputs) if (hashFile(file) !== hash) return false;
  return true;
}

/** Whether `path` lies in an installed package. */
function inPackage(path: string): boolean {
  return path.includes(`${sep}node_modules${sep}`);
}

const esmPackages = new Map<string, boolean>();

/**
 * Whether the program imports the file at `path` from where it is installed instead of holding it:
 * CommonJS packages stay outside (they may load native addons or files through `require` and
 * `__dirname`, which a bundle would break). ES module packages (msgpackr, an installed vf) go
 * in: they locate files only through `import.meta.url`, which each bundled file keeps, and one file
 * spares each task resolving, reading and linking every one of theirs (zod, when a flow imports it, has hundreds).
 */
function staysOutside(path: string): boolean {
  if (!inPackage(path)) return false;
  if (path.endsWith('.mjs')) return false;
  if (path.endsWith('.cjs')) return true;
  let directory = dirname(path);
  const visited: string[] = [];
  let esm: boolean | undefined;
  while (esm === undefined) {
    esm = esmPackages.get(directory);
    if (esm !== undefined) break;
    visited.push(directory);
    try {
      esm = (JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { type?: unknown }).type === 'module';
    } catch {
      const parent = dirname(directory);
      if (parent === directory || basename(directory) === 'node_modules') esm = false;
      else directory = parent;
    }
  }
  for (const seen of visited) esmPackages.set(seen, esm);
  return !esm;
}

/**
 * Declares, at the start of the file's first line (second after a `#!` line) (so that every other line keeps its number in stack traces),
 * the values `import.meta.url`, `.dirname` and `.filename` are replaced with in this file.
 */
function keepImportMeta(source: string, path: string): string {
  if (!source.includes('import.meta')) return source;
  const values = { [META.url]: pathToFileURL(path).href, [META.dirname]: dirname(path), [META.filename]: path };
  const declarations = `${Object.entries(values)
    .map(([name, value]) => `var ${name} = ${JSON.stringify(value)};`)
    .join(' ')} `;
  // A `#!` line must stay first: the declarations then lead the second line.
  const at = source.startsWith('#!') ? source.indexOf('\n') + 1 : 0;
  return at === 0 && source.startsWith('#!') ? source : `${source.slice(0, at)}${declarations}${source.slice(at)}`;
}
