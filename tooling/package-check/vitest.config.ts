import { vfProject } from '@vf/vitest-config';

// Packing, an npm install from the registry and four flow runs: minutes, not seconds.
export default vfProject('package-check', { test: { testTimeout: 400_000, hookTimeout: 60_000 } });
