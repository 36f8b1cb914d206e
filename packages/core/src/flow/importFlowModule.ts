import { fileURLToPath } from 'node:url';
import { FlowValidationError } from '../errors.js';
import { importModule } from '../runtime/bundledModules.js';

/**
 * Imports of flow modules in flight. When the event loop runs dry while one waits, nothing can
 * ever settle it: the module waits, directly or not, for its own import (it loads itself). Node
 * would then exit with code 13 and no word of why; these imports fail with a coded error instead.
 */
const inFlight = new Set<() => void>();

function onBeforeExit(): void {
  for (const stall of inFlight) stall();
}

/**
 * Whether a caller on the current stack is code of the module at `url`. Call it synchronously at
 * the start of `Flow.load`: then the module is (directly or through functions) loading itself.
 */
export function calledFromModule(url: string): boolean {
  let path: string;
  try {
    path = fileURLToPath(url.replace(/[?#].*$/, ''));
  } catch {
    return false; // not a file: URL (data:, http:): no stack frame can name it as a path
  }
  return callerFiles().some((location) => {
    try {
      return (location.startsWith('file:') ? fileURLToPath(location.replace(/[?#].*$/, '')) : location) === path;
    } catch {
      return false;
    }
  });
}

/**
 * The file (path or URL) of each frame on the current stack, from V8's call sites. Reading them
 * formats no stack text, which with source maps on (task processes) would load and parse the
 * maps: tens of milliseconds of every task's start-up.
 */
function callerFiles(): string[] {
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  Error.stackTraceLimit = 100;
  Error.prepareStackTrace = (_error, callSites) => callSites;
  try {
    const probe: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(probe);
    return (probe.stack ?? []).map((site) => site.getFileName() ?? '').filter((file) => file !== '');
  } finally {
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = prepare;
  }
}

/**
 * `import(url)`, failing with `INVALID_FLOW_MODULE` when the import can never finish (the event
 * loop ran dry while it waited). `selfLoad`: the caller is the module itself, which says why.
 */
export async function importFlowModule(url: string, selfLoad: boolean): Promise<{ default?: unknown }> {
  let stall!: () => void;
  const stalled = new Promise<never>((_, reject) => {
    stall = () => reject(stalledError(url, selfLoad));
  });
  inFlight.add(stall);
  if (inFlight.size === 1) process.on('beforeExit', onBeforeExit);
  try {
    return (await Promise.race([importModule(url), stalled])) as { default?: unknown };
  } finally {
    inFlight.delete(stall);
    if (inFlight.size === 0) process.removeListener('beforeExit', onBeforeExit);
  }
}

function stalledError(url: string, selfLoad: boolean): FlowValidationError {
  const why = selfLoad
    ? 'it loads itself: Flow.load() of its own URL is awaited while the module is still loading (at its top level, or in a function its top level awaits), and a module cannot wait for its own import'
    : 'its top level waits for something that never settles (most likely Flow.load() of this same module, from a module it imports)';
  return new FlowValidationError(
    'INVALID_FLOW_MODULE',
    `flow module ${url} never finished loading: ${why}. Put the runner (Flow.load, flow.run) in a separate module that imports nothing from the flow module, ` +
      'or guard it so that it starts after the module has loaded and never when a task process loads it: ' +
      '`if (process.argv[1] === fileURLToPath(import.meta.url)) void main();` without awaiting main() at the top level',
    { details: { moduleUrl: url } },
  );
}
