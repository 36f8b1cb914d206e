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
