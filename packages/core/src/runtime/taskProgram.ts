import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
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

/** The file of a split program's second part, the flow's own modules (its first part is `task.cjs`). */
const FLOW_PROGRAM_FILE = 'flow.cjs';

/** A run's compiled task program. */
export interface TaskProgram {
  /** The program's file, in the run directory. */
  readonly path: string;
  /**
   * Where its tasks find, or leave, V8's code cache for it (`native/loadTaskProgram.cjs`): a CommonJS
   * program with a cache folder (`taskProgramCache.ts`) only.
   */
  readonly codeCache?: string;
  /**
   * The program's second part, where it is split (see {@link buildTaskProgram}): the flow's own
   * modules, which `path` (vf's runtime) runs when the flow is first imported.
   */
  readonly flow?: { readonly path: string; readonly codeCache?: string };
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
 * messenger module, in one JavaScript file with a source map, or in two where the flow imports vf
 * through `@vf/core` ({@link splitTaskProgram}: vf's part is then compiled once for every flow).
 * Task processes then start on plain `node` — no TypeScript loader, no module resolution — which is
 * most of a task's start-up time.
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
  const cacheDir = taskProgramCacheDir(moduleUrls[0] ?? '');
  const modules = moduleUrls.map((url) => `  ${JSON.stringify(url)}: () => import(${JSON.stringify(fileURLToPath(url))}),`);
  const contents = programEntry('registerBundledModules', `registerBundledModules({\n${modules.join('\n')}\n});`);
  // The entry names the runtime and the modules; the inputs' hashes, checked on a hit, cover their contents.
  // The source map names sources relative to the program's directory: a run directory elsewhere needs its own build.
  const cacheKey = JSON.stringify([esbuildVersion(), dirname(dir), contents]);
  const reused = await reusableProgram(cacheKey, cacheDir);
  if (reused !== undefined) {
    if (reused.from === 'disk' && isLogLevelEnabled('debug')) getLogger().debug({ cacheDir }, 'task program: taken from the cache');
    return writeProgram(dir, reused.program, cacheDir);
  }
  const split = await splitTaskProgram(dir, moduleUrls, modules, cacheDir);
  if (split !== undefined) return split;
  try {
    const started = performance.now();
    const esbuild = loadEsbuild();
    // CommonJS; where esbuild refuses it (a module awaits at its top level, which CommonJS cannot
    // hold), an ES module. Any refusal takes the second try: a module broken for both is built twice.
    const program = compiledProgram(
      await compile(esbuild, 'commonjs', dir, contents).catch(() => compile(esbuild, 'module', dir, contents)),
    );
    if (isLogLevelEnabled('debug')) getLogger().debug({ ms: Math.round(performance.now() - started) }, 'task program: compiled');
    const [written] = await Promise.all([writeProgram(dir, program, cacheDir), storeProgram(cacheKey, program, cacheDir)]);
    return written;
  } catch (error) {
    getLogger().debug({ err: error }, 'the task program could not be compiled: tasks load the flow module themselves');
    return undefined;
  }
}

/**
 * A program's generated entry: vf's task runtime maps the program's stack traces, runs
 * `registration` (a call of `register`, which it imports beside `imports`), registers zeromq, and
 * runs the task.
 */
function programEntry(register: string, registration: string, imports: readonly string[] = []): string {
  return [
    `import { mapProgramStackTraces, ${register}, registerBundledPackages, runTaskProcess } from ${JSON.stringify(runtimeEntry)};`,
    ...imports,
    // Under `native/loadTaskProgram.cjs`, the name its frames carry (that of its code cache).
    "mapProgramStackTraces(process.argv[1], typeof __vfScriptName === 'string' ? __vfScriptName : undefined);",
    registration,
    `registerBundledPackages({ zeromq: () => require(${JSON.stringify(ZEROMQ_MODULE)}) });`,
    'runTaskProcess(undefined, process.argv[1]);',
  ].join('\n');
}

/** The program esbuild compiled: its files by name, and the hashes of the files it read. */
function compiledProgram(result: Awaited<ReturnType<typeof compile>>): CachedProgram {
  return {
    inputs: hashInputs(Object.keys(result.metafile.inputs)),
    files: new Map(result.outputFiles.map((file) => [basename(file.path), file.text])),
  };
}

/**
 * Bundles the generated entry `contents` into `format` (see {@link buildTaskProgram}); rejects when
 * esbuild refuses. `part`: which part of a split program it is (none: a one-file program).
 */
function compile(
  esbuild: ReturnType<typeof loadEsbuild>,
  format: keyof typeof TASK_PROGRAM_FILES,
  dir: string,
  contents: string,
  part?: FlowPart | 'vf',
) {
  const flowPart = typeof part === 'object' ? part : undefined;
  const commonjs = format === 'commonjs';
  // `require()` takes a path; an ES module's `import` a URL.
  const externalPath = (path: string, kind: string) => (commonjs || kind === 'require-call' ? path : pathToFileURL(path).href);
  return esbuild.build({
    // Not the run directory itself: a program compiled for one run serves the next one unchanged.
    stdin: { contents, resolveDir: dirname(dir), sourcefile: ENTRY_NAME, loader: 'js' },
    outfile: join(dir, flowPart === undefined ? TASK_PROGRAM_FILES[format] : FLOW_PROGRAM_FILE),
    bundle: true,
    platform: 'node',
    format: commonjs ? 'cjs' : 'esm',
    target: 'node20',
    conditions: fromSource ? ['@vf/source'] : [],
    // Node runs every module a flow imports, whatever a package's `sideEffects` field says: so does the program.
    ignoreAnnotations: true,
    keepNames: true,
    // vf's part of a split program (see splitTaskProgram): ASCII without its comments.
    minifyWhitespace: part === 'vf',
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
          // The flow's part of a split program takes vf from the runtime's part: `@vf/core` and its
          // subpaths stay outside, where they resolve to the runtime's own files (else it is not split).
          if (flowPart !== undefined) {
            build.onResolve({ filter: /^@vf\/core(?:\/[^/]+)?$/ }, async (args) => {
              if (args.pluginData === 'vf-resolving') return undefined;
              const resolved = await build.resolve(args.path, {
                kind: args.kind,
                resolveDir: args.resolveDir,
                importer: args.importer,
                pluginData: 'vf-resolving',
              });
              if (resolved.errors.length === 0 && resolved.path === flowPart.vfEntries.get(args.path))
                return { path: args.path, external: true };
              flowPart.elsewhere = true;
              return resolved.errors.length > 0 ? { errors: resolved.errors } : resolved;
            });
          }
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

/** What the build of a split program's flow part needs and finds (see {@link splitTaskProgram}). */
interface FlowPart {
  /** vf's entry points the flow part may require from the runtime part: specifier → file. */
  readonly vfEntries: ReadonlyMap<string, string>;
  /** A `@vf/core` import resolved elsewhere (another copy of vf): the program is not split. */
  elsewhere: boolean;
}

/**
 * The program in two parts, where it can be: vf's runtime with the `@vf/core` entry points the flow
 * imports (`task.cjs`), and the flow's own modules (`flow.cjs`), which take vf from the first. A flow
 * changed since its last run then compiles only its own part (tens of ms, where the whole program
 * took 150–300, most of it vf), and its tasks run vf from the code cache earlier runs of any flow
 * left for it. Each part is cached (in this process and on disk) like a whole program.
 *
 * Undefined, and the program is one file as before, where the parts could not share one copy of vf:
 * the flow reaches vf's files other than through `@vf/core`'s entry points (a module of vf's own,
 * as the core's test flows are), or its `@vf/core` is another copy; where a part must be an ES
 * module (a top-level await); where the tasks' node cannot run the second part through the code
 * cache (Node before 20.12); where there is no cache on disk (`VF_TASK_PROGRAM_CACHE=off`, or no
 * `node_modules` above the flow: each host would compile both parts); or where esbuild refuses a part.
 */
async function splitTaskProgram(
  dir: string,
  moduleUrls: readonly string[],
  modules: readonly string[],
  cacheDir: string | undefined,
): Promise<TaskProgram | undefined> {
  // Without a cache on disk, every fresh host would compile both parts, one after the other: the
  // split pays only where vf's part is kept for the next host.
  if (cacheDir === undefined) return undefined;
  const vfEntries = vfEntryPoints();
  if (vfEntries === undefined || vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER === undefined) return undefined;
  const files = moduleUrls.map((url) => fileURLToPath(url));
  // Only a flow that imports vf (every flow module does: `defineFlow`) has a part to take from vf's.
  if (files.some((file) => isInside(file, vfEntries.root)) || !files.some((file) => importsVf(file))) return undefined;
  const started = performance.now();
  const compiledParts: string[] = [];
  const flowContents = `module.exports = { modules: {\n${modules.join('\n')}\n} };`;
  const flowKey = JSON.stringify([esbuildVersion(), dirname(dir), 'flow', flowContents]);
  let flow = (await reusableProgram(flowKey, cacheDir))?.program;
  if (flow === undefined) {
    const part: FlowPart = { vfEntries: vfEntries.entries, elsewhere: false };
    const result = await compile(loadEsbuild(), 'commonjs', dir, flowContents, part).catch(() => undefined);
    if (result === undefined || part.elsewhere) return undefined;
    flow = compiledProgram(result);
    if ([...flow.inputs.keys()].some((file) => isInside(file, vfEntries.root))) return undefined;
    await storeProgram(flowKey, flow, cacheDir);
    compiledParts.push('flow');
  }
  // What the flow's part requires of vf (esbuild writes an external's `require` as its specifier).
  const text = flow.files.get(FLOW_PROGRAM_FILE) ?? '';
  const required = [...vfEntries.entries.keys()].filter((specifier) => text.includes(`require(${JSON.stringify(specifier)})`));
  if (required.length === 0) return undefined;
  // Only what the flow reads of each entry point, where that can be told: esbuild then leaves out the
  // rest of vf's public modules, which a whole namespace would hold (a quarter more program to load).
  const imports: string[] = [];
  const provided = required.map((specifier, index) => {
    const file = JSON.stringify(vfEntries.entries.get(specifier));
    const names = usedVfExports(text, specifier);
    // A whole namespace, required lazily: esbuild evaluates a module required only when it first is.
    if (names === undefined) return `  ${JSON.stringify(specifier)}: () => require(${file}),`;
    imports.push(`import { ${names.map((name, at) => `${name} as __vf${index}_${at}`).join(', ')} } from ${file};`);
    return `  ${JSON.stringify(specifier)}: () => ({ ${names.map((name, at) => `${name}: __vf${index}_${at}`).join(', ')} }),`;
  });
  const runtimeContents = programEntry(
    'registerFlowProgram',
    `registerFlowProgram({\n${provided.join('\n')}\n}, mapProgramStackTraces);`,
    imports,
  );
  const runtimeKey = JSON.stringify([esbuildVersion(), dirname(dir), 'runtime, whitespace minified', runtimeContents]);
  let runtime = (await reusableProgram(runtimeKey, cacheDir))?.program;
  if (runtime === undefined) {
    // Whitespace minified: esbuild keeps the JSDoc of class members, whose few non-ASCII characters
    // (×, →, µs) made every task read the whole part as a two-byte string (441 KB, 882 in memory);
    // without them it is ASCII, and a third smaller (300 KB). Reading and compiling it from its code
    // cache: 8.5-9.1 against 15.4-16.1 ms of CPU per task (one process, four runs each). Only vf's
    // part: the flow's keeps its user's formatting (`Function.prototype.toString`), and
    // `usedVfExports` reads esbuild's usual output there. Stack traces map through the source map.
    const result = await compile(loadEsbuild(), 'commonjs', dir, runtimeContents, 'vf').catch(() => undefined);
    if (result === undefined) return undefined;
    runtime = compiledProgram(result);
    await storeProgram(runtimeKey, runtime, cacheDir);
    compiledParts.push('vf');
  }
  const [main, flowPart] = await Promise.all([writeProgram(dir, runtime, cacheDir), writeProgram(dir, flow, cacheDir, FLOW_PROGRAM_FILE)]);
  if (isLogLevelEnabled('debug')) {
    if (compiledParts.length === 0) getLogger().debug({ cacheDir, parts: ['vf', 'flow'] }, 'task program: taken from the cache');
    else getLogger().debug({ ms: Math.round(performance.now() - started), parts: compiledParts }, 'task program: compiled');
  }
  return { ...main, flow: flowPart };
}

/**
 * The names the flow's part reads of vf's entry point `specifier`, sorted, where esbuild's output
 * shows them all: each `require` of it is assigned to a variable (`import_core = require("@vf/core")`),
 * and each use of such a variable reads a property (`import_core.Flow`) or declares it. Undefined where
 * that is not so (a namespace passed on, `export *` from it, a require for its effects): all of it.
 */
export function usedVfExports(text: string, specifier: string): string[] | undefined {
  const call = `require(${JSON.stringify(specifier)})`;
  const variables = [...text.matchAll(new RegExp(`(?<![\\w$.])([A-Za-z_$][\\w$]*) = ${escapeRegExp(call)}`, 'g'))].map(
    (match) => match[1] as string,
  );
  if (variables.length === 0 || variables.length !== text.split(call).length - 1) return undefined;
  // Declarations without a value (`var import_core, import_nodes;`) name the variables too.
  const uses = text.replace(/\bvar [A-Za-z_$][\w$]*(?:, [A-Za-z_$][\w$]*)*;/g, '');
  const names = new Set<string>();
  for (const variable of new Set(variables)) {
    const use = new RegExp(`(?<![\\w$.])${escapeRegExp(variable)}(?![\\w$])(\\.[A-Za-z_$][\\w$]*| = ${escapeRegExp(call)})?`, 'g');
    for (const [, how] of uses.matchAll(use)) {
      if (how === undefined) return undefined;
      if (how.startsWith('.')) names.add(how.slice(1));
    }
  }
  return [...names].sort();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A program compiled before under `key` (a whole program, or a part of a split one), kept in this
 * process or in the cache on disk, whose inputs have not changed since; and where it was found.
 */
async function reusableProgram(
  key: string,
  cacheDir: string | undefined,
): Promise<{ readonly program: CachedProgram; readonly from: 'memory' | 'disk' } | undefined> {
  const kept = compiled.get(key);
  compiled.delete(key);
  if (kept !== undefined && unchanged(kept.inputs)) {
    compiled.set(key, kept);
    return { program: kept, from: 'memory' };
  }
  const cached = cacheDir === undefined ? undefined : await readCachedProgram(cacheDir, key);
  if (cached === undefined || !unchanged(cached.inputs)) return undefined;
  keep(key, cached);
  return { program: cached, from: 'disk' };
}

/** Keeps a program just compiled under `key`, in this process and in the cache on disk. */
async function storeProgram(key: string, program: CachedProgram, cacheDir: string | undefined): Promise<void> {
  keep(key, program);
  if (cacheDir !== undefined) await writeCachedProgram(cacheDir, key, program);
}

/** Whether the module `file` names `@vf/core` (an import of it, or anything else: a cheap first look, before any build). */
function importsVf(file: string): boolean {
  try {
    return /["']@vf\/core(?:\/[^"'/]+)?["']/.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

/** Whether `file` lies in `folder`. */
function isInside(file: string, folder: string): boolean {
  return file.startsWith(folder.endsWith(sep) ? folder : `${folder}${sep}`);
}

let foundVfEntries: { readonly root: string; readonly entries: ReadonlyMap<string, string> } | null | undefined;

/**
 * `@vf/core`'s folder and its entry points by specifier (`@vf/core`, `@vf/core/nodes`, ...), as this
 * host's copy of vf resolves them (its `exports`, under the `@vf/source` condition when it runs
 * from source); undefined where they cannot be told.
 */
function vfEntryPoints(): { readonly root: string; readonly entries: ReadonlyMap<string, string> } | undefined {
  if (foundVfEntries === undefined) {
    foundVfEntries = null;
    try {
      let root = dirname(runtimeEntry);
      while (!existsSync(join(root, 'package.json'))) root = dirname(root);
      const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
        name?: unknown;
        exports?: Record<string, unknown>;
      };
      if (manifest.name === '@vf/core' && manifest.exports !== undefined) {
        const entries = new Map<string, string>();
        for (const [subpath, target] of Object.entries(manifest.exports)) {
          const file =
            typeof target === 'object' && target !== null
              ? (target as Record<string, unknown>)[fromSource ? '@vf/source' : 'default']
              : undefined;
          if (typeof file === 'string' && /\.[cm]?[jt]s$/.test(file)) entries.set(`@vf/core${subpath.slice(1)}`, resolve(root, file));
        }
        foundVfEntries = { root, entries };
      }
    } catch {
      // not told: the program stays one file
    }
  }
  return foundVfEntries ?? undefined;
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

async function writeProgram(
  dir: string,
  program: CachedProgram,
  cacheDir: string | undefined,
  main: string = TASK_PROGRAM_FILES.commonjs,
): Promise<TaskProgram> {
  await Promise.all([...program.files].map(([name, text]) => writeFile(join(dir, name), text)));
  const commonjs = program.files.get(main);
  if (commonjs === undefined) return { path: join(dir, TASK_PROGRAM_FILES.module) };
  const path = join(dir, main);
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
