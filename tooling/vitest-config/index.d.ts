import type { UserWorkspaceConfig } from 'vitest/config';

/** Conditions that make workspace packages resolve to their TypeScript source. */
export declare const sourceConditions: string[];

/** Vitest project preset for a vf package. */
export declare function vfProject(name: string, overrides?: UserWorkspaceConfig): UserWorkspaceConfig;
