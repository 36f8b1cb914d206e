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
  const load = bundled.get(url);
  return load === undefined ? import(url) : load();
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
