/**
 * Modules compiled into this process's task program (`runtime/taskProgram.ts`), by the URL they
 * were asked for: the flow module and the engine's messenger module. A task process started from
 * a program imports them from it instead of loading (and, for TypeScript, compiling) them again.
 * Empty in every other process, where {@link importModule} is plain `import()`.
 */
const bundled = new Map<string, () => Promise<unknown>>();

/** Records the modules a task program carries (called once, by the program's entry). */
export function registerBundledModules(modules: Readonly<Record<string, () => Promise<unknown>>>): void {
  for (const [url, load] of Object.entries(modules)) bundled.set(url, load);
}

/** `import(url)`, served from this process's task program when it carries that module. */
export function importModule(url: string): Promise<unknown> {
  if (flowProgram !== undefined && !bundled.has(url)) {
    try {
      loadFlowProgram(flowProgram);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const load = bundled.get(url);
  return load === undefined ? import(url) : load();
}

/**
 * Names, for a task of a split program (`taskProgram.ts`), the file of its second part, the flow's
 * own modules, and of V8's code cache for it; read and removed from the environment by the first part.
 */
export const FLOW_PROGRAM_ENV = { program: 'VF_TASK_FLOW_PROGRAM', codeCache: 'VF_TASK_FLOW_CODE_CACHE' } as const;

/** `native/loadTaskProgram.cjs`'s runner of a CommonJS script through V8's code cache. */
const RUN_TASK_SCRIPT = Symbol.for('vf.runTaskScript');
type RunTaskScript = (
  file: string,
  cacheFile: string | undefined,
  provided: (id: string) => unknown,
) => { readonly exports: { readonly modules?: Readonly<Record<string, () => Promise<unknown>>> }; readonly scriptName: string };

interface FlowProgram {
  readonly file: string;
  readonly codeCache: string | undefined;
  readonly vf: Readonly<Record<string, () => unknown>>;
  readonly mapStackTraces: (file: string, scriptName: string) => void;
}

let flowProgram: FlowProgram | undefined;
let flowProgramFile: string | undefined;

/**
 * The first part of a split task program (vf's runtime, `taskProgram.ts`) registers what the second
 * part, the flow's own modules, requires of vf: `@vf/core` and its subpaths, by specifier, as
 * modules of the first part, so that both share one copy of vf. The second part runs when a module
 * is first imported (`importModule`). Does nothing in a task that was given no second part.
 */
export function registerFlowProgram(vf: Readonly<Record<string, () => unknown>>, mapStackTraces: FlowProgram['mapStackTraces']): void {
  const file = process.env[FLOW_PROGRAM_ENV.program];
  const codeCache = process.env[FLOW_PROGRAM_ENV.codeCache];
  delete process.env[FLOW_PROGRAM_ENV.program];
  delete process.env[FLOW_PROGRAM_ENV.codeCache];
  if (file === undefined || file === '') return;
  flowProgramFile = file;
  flowProgram = { file, codeCache: codeCache === '' ? undefined : codeCache, vf, mapStackTraces };
}

/** The file of this task's flow program (the second part of a split program), if it was given one: removed by an orphan. */
export function registeredFlowProgram(): string | undefined {
  return flowProgramFile;
}

function loadFlowProgram(program: FlowProgram): void {
  flowProgram = undefined;
  const run = (globalThis as { [RUN_TASK_SCRIPT]?: RunTaskScript })[RUN_TASK_SCRIPT];
  if (run === undefined) throw new Error(`the flow's part of the task program (${program.file}) needs native/loadTaskProgram.cjs to run`);
  const { exports, scriptName } = run(program.file, program.codeCache, (id) => program.vf[id]?.());
  program.mapStackTraces(program.file, scriptName);
  registerBundledModules(exports.modules ?? {});
}

/**
 * Installed CommonJS packages compiled into this process's task program, by package name: zeromq,
 * whose JavaScript the program carries and whose addon it loads by the path the host found. Node's
 * own loader took ~14 ms of CPU per task to find and compile the same files (`taskProgram.ts`).
 */
const bundledPackages = new Map<string, () => unknown>();

/** Records the packages a task program carries (called once, by the program's entry, before anything requires them). */
export function registerBundledPackages(packages: Readonly<Record<string, () => unknown>>): void {
  for (const [name, load] of Object.entries(packages)) bundledPackages.set(name, load);
}

/** The package `name` as this process's task program carries it; undefined where it does not (then `require` it). */
export function bundledPackage(name: string): unknown {
  return bundledPackages.get(name)?.();
}
