import { createRequire } from 'node:module';

/**
 * esbuild, loaded with `require`, not imported: imported from an ES module, its CommonJS entry is
 * first scanned for its export names, 39-44 ms (65-77 ms of CPU) against 9-13 ms in a fresh node,
 * on the path of a host's first run of a flow (no task program cached). A module of its own, so
 * that tests can wrap it.
 */
export function loadEsbuild(): typeof import('esbuild') {
  return createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
}
