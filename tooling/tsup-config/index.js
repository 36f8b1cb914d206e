// Every build setting of the monorepo lives here, so that moving from tsup (in maintenance
// upstream) to its successor tsdown is a change to this one file.
import { defineConfig } from 'tsup';

/**
 * Build preset for a vf package: ESM + declaration files, one output file per entry.
 * @param {Record<string, string>} entry map of output name to source file, e.g. `{ index: 'src/index.ts' }`
 * @param {import('tsup').Options} [overrides]
 */
export function vfTsup(entry, overrides = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    ...overrides,
  });
}
