import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// Run as a task runs it: a program bundled by esbuild with a linked map, on plain node (in-process,
// vitest's own module transform would move the program's lines).
describe('mapProgramStackTraces', () => {
  let dir: string;
  let program: string;
  let source: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vf-stack-test-'));
    source = join(dir, 'node.ts');
    // The throw is on line 4 of the TypeScript source, whatever line esbuild puts it on.
    writeFileSync(
      source,
      [
        'interface Item { n: number }',
        '',
        'export function boom(item: Item): never {',
        "  throw new RangeError('bad ' + item.n);",
        '}',
        '',
      ].join('\n'),
    );
    const entry = [
      `import { mapProgramStackTraces } from ${JSON.stringify(fileURLToPath(new URL('./programStackTraces.ts', import.meta.url)))};`,
      `import { boom } from ${JSON.stringify(source)};`,
      'mapProgramStackTraces(process.argv[1]);',
      'try { boom({ n: 7 }); } catch (error) { console.log(error.stack); }',
    ].join('\n');
    program = join(dir, 'task.mjs');
    await build({
      stdin: { contents: entry, resolveDir: dir, loader: 'ts' },
      outfile: program,
      bundle: true,
      format: 'esm',
      platform: 'node',
      sourcemap: 'linked',
      logLevel: 'silent',
    });
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const stackOfBoom = (): string => spawnSync(process.execPath, [program], { encoding: 'utf8', timeout: 20_000 }).stdout;

  it("puts the program's frames on the source's lines, and leaves the others as V8 writes them", () => {
    const lines = stackOfBoom().trim().split('\n');
    expect(lines[0]).toBe('RangeError: bad 7');
    expect(lines[1]).toMatch(new RegExp(`^    at boom \\(${source.replaceAll('.', '\\.')}:4:\\d+\\)$`));
    expect(lines.slice(1, -1).join('\n')).not.toContain('task.mjs');
    // Node's own frames are outside the program: as V8 writes them.
    expect(lines.some((line) => line.includes('node:internal'))).toBe(true);
  });

  it('without its map (the run directory is gone), frames stay on the program', () => {
    rmSync(`${program}.map`);
    const stack = stackOfBoom();
    expect(stack.split('\n')[0]).toBe('RangeError: bad 7');
    expect(stack).toContain('task.mjs');
    expect(stack).not.toContain('node.ts');
  });
});
