import { vfProject } from '@vf/vitest-config';

export default vfProject('engine-realtime');
