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
