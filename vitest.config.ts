import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tooling/package-check'],
    // One temporary root per test run, swept by the next run when this one was killed.
    globalSetup: ['./tooling/vitest-config/tempRoot.js'],
  },
});
