// Fetches Debian's opencv-doc clips into the footage cache: `pnpm --filter @vf/vision footage [clip]`.
import { type FootageClip, realFootage } from '../src/index.js';

const clip = (process.argv[2] ?? 'vtest.avi') as FootageClip;
const result = await realFootage(clip, { log: (line) => console.error(line) });
if ('unavailable' in result) {
  console.error(`no footage: ${result.unavailable}`);
  process.exitCode = 1;
} else console.log(result.path);
