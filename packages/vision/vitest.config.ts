import { vfProject } from '@vf/vitest-config';

// The integration files start whole flows and ffmpeg children: one file at a time on a 2-core machine.
export default vfProject('vision', { test: { fileParallelism: false, testTimeout: 120_000, hookTimeout: 180_000 } });
