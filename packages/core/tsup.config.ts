import { vfTsup } from '@vf/tsup-config';

export default vfTsup({ index: 'src/index.ts', engine: 'src/engine.ts', testing: 'src/testing.ts', nodes: 'src/nodes.ts' });
