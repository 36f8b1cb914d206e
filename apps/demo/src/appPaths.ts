import { fileURLToPath } from 'node:url';

/**
 * A file of the demo app, by its path from the app's folder (e.g. `flows/detect.ts`). This module
 * sits one folder below the app both as source (`src/`) and once bundled (`dist/main.js`), so one
 * `../` reaches the app from either: modules deeper in `src/` use this instead of their own
 * `import.meta.url`, which bundling would move.
 */
export function appUrl(relative: string): URL {
  return new URL(`../${relative}`, import.meta.url);
}

/** {@link appUrl} as a path. */
export function appPath(relative: string): string {
  return fileURLToPath(appUrl(relative));
}

/** The demo's flow modules (`flows/NAME.ts`). */
export type DemoFlowName = 'analyze' | 'detect';

// TypeScript when this module runs as source (tsx), JavaScript once bundled into dist/.
const fromSource = import.meta.url.endsWith('.ts');

/**
 * The module of one of the demo's flows, which the host and every task process import: the
 * TypeScript source (`flows/NAME.ts`) when the app runs from source, the built `dist/flows/NAME.js`
 * (built beside `dist/main.js`, see tsup.config.ts) when it runs from dist, where plain Node cannot
 * import `.ts` files.
 */
export function flowModuleUrl(name: DemoFlowName): URL {
  return fromSource ? appUrl(`flows/${name}.ts`) : new URL(`./flows/${name}.js`, import.meta.url);
}
