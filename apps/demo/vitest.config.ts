import { vfProject } from '@vf/vitest-config';

// The end-to-end files each start a whole flow (several processes): one file at a time keeps a
// 2-core machine from timing them out.
export default vfProject('demo', { test: { fileParallelism: false } });
