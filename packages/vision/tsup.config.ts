import { vfTsup } from '@vf/tsup-config';

export default vfTsup({ index: 'src/index.ts' });
