import { vfProject } from '@vf/vitest-config';

export default vfProject('core');
