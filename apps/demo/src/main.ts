/**
 * `pnpm demo`: the vf end-to-end demo. See `vf-demo --help` and the app's README.
 */
import { buildProgram } from './cli.js';

await buildProgram().parseAsync(process.argv);
