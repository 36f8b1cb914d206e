import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Puts the frames of a task program (`taskProgram.ts`) back on the user's source lines in stack
 * traces, reading the program's source map only when a stack is first formatted. Node's
 * `--enable-source-maps` reads and indexes the map of every module as it loads (the program's is
 * a few hundred KB): 70–100 ms of a 5-task flow's start-up on 2 cores (bench `startup`), for stack
 * traces most runs never format.
 *
 * Frames outside the program (Node's, installed packages') read as V8 writes them. A user's own
 * `Error.prepareStackTrace` replaces this one, as it would replace Node's. `scriptName`: the name
 * the program's frames carry where it is not its file's (run from a code cache, `native/loadTaskProgram.cjs`).
 */
export function mapProgramStackTraces(programFile: string, scriptName = programFile): void {
  const programUrl = pathToFileURL(programFile).href;
  let sourceMap: SourceMap | null | undefined;
  const loadMap = (): SourceMap | null => {
    if (sourceMap === undefined) {
      try {
        sourceMap = new SourceMap(JSON.parse(readFileSync(`${programFile}.map`, 'utf8')));
      } catch {
        // No map (removed with the run's directory): frames stay on the program's lines.
        sourceMap = null;
      }
    }
    return sourceMap;
  };
  programs.push({ names: [programUrl, programFile, scriptName], programFile, loadMap });
  if (programs.length === 1) Error.prepareStackTrace = prepareStackTrace;
}

/** The programs whose frames {@link mapProgramStackTraces} maps: a task runs one, or the two parts of a split one. */
const programs: Array<{ readonly names: readonly string[]; readonly programFile: string; readonly loadMap: () => SourceMap | null }> = [];

function mapped(site: NodeJS.CallSite): string {
  const text = String(site);
  const file = site.getFileName();
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  const program = file === undefined || file === null ? undefined : programs.find(({ names }) => names.includes(file));
  if (program === undefined || line === null || column === null) return text;
  const entry = program.loadMap()?.findEntry(line - 1, column - 1) as {
    originalSource?: string;
    originalLine?: number;
    originalColumn?: number;
  };
  if (entry?.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return text;
  const source = entry.originalSource.startsWith('file:')
    ? fileURLToPath(entry.originalSource)
    : resolve(dirname(program.programFile), entry.originalSource);
  return text.replace(`${file}:${line}:${column}`, `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
}

function prepareStackTrace(error: Error, callSites: NodeJS.CallSite[]): string {
  let header: string;
  try {
    header = Error.prototype.toString.call(error);
  } catch {
    header = 'Error';
  }
  return [header, ...callSites.map((site) => `    at ${mapped(site)}`)].join('\n');
}
