/**
 * `pnpm demo`: the vf end-to-end demo. See `vf-demo --help` and the app's README.
 */
import { buildProgram } from './cli.js';

// `pnpm demo -- --engine realtime` hands the `--` on to the script: it is no end-of-options marker here.
const args = process.argv.slice(2);
if (args[0] === '--') args.shift();
await buildProgram().parseAsync(args, { from: 'user' });
