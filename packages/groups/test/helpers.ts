import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { shellQuote } from '../src/templates/renderScript.js';

/** Node with the tsx loader and the source condition: runs this package's TypeScript in a child process. */
export const nodeWithTsx: readonly string[] = [
  process.execPath,
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
  '--conditions=@vf/source',
];

/** {@link nodeWithTsx} as one shell command: the `executable` of test projects. */
export const tsxExecutable = nodeWithTsx.map(shellQuote).join(' ');

/** Collects what a CLI writes. */
export function collector(): { write(text: string): boolean; readonly text: string } {
  let text = '';
  return {
    write(chunk: string) {
      text += chunk;
      return true;
    },
    get text() {
      return text;
    },
  };
}
