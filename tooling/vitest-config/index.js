import { defineProject } from 'vitest/config';

/** Conditions that make workspace packages resolve to their TypeScript source. */
export const sourceConditions = ['@vf/source', 'node', 'import', 'default'];

/**
 * Vitest project preset for a vf package.
 * @param {string} name project name shown in the test output
 * @param {import('vitest/config').UserProjectConfigExport & object} [overrides]
 */
export function vfProject(name, overrides = {}) {
  const { test = {}, ...rest } = overrides;
  return defineProject({
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: sourceConditions, externalConditions: sourceConditions } },
    test: {
      name,
      environment: 'node',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 20_000,
      hookTimeout: 20_000,
      ...test,
    },
    ...rest,
  });
}
