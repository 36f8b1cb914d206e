import { vfTsup } from '@vf/tsup-config';

// The flow modules are entries of their own: the host and every task process import them by URL
// (src/appPaths.ts flowModuleUrl), and plain Node cannot import the `.ts` sources.
export default vfTsup({ main: 'src/main.ts', 'flows/analyze': 'flows/analyze.ts', 'flows/detect': 'flows/detect.ts' }, { dts: false });
