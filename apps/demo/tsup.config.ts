import { vfTsup } from '@vf/tsup-config';

export default vfTsup({ main: 'src/main.ts' }, { dts: false });
