import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));

/** Runs `script` as a program of its own (as a user would); resolves with its exit code and stderr. */
function runScript(script: string, out: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', tsxLoader, '--conditions=@vf/source', script, out], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not exit in 30 s; stderr so far:\n${stderr}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('a flow module that loads itself', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-flow-module-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Without the check, Node waits for the module to finish loading, which waits for Flow.load:
  // the program exits with code 13 ("unsettled top-level await") and no word about why.
  it.each([
    ['at its top level', 'selfLoading'],
    ['from a function its top level awaits', 'selfLoadingInMain'],
  ])('%s: fails at once with INVALID_FLOW_MODULE and the fix', { timeout: 60_000 }, async (_label, name) => {
    const out = join(dir, 'status.txt');
    const { code, stderr } = await runScript(fixture(name), out);
    expect(code, stderr).toBe(1);
    expect(stderr).toContain('INVALID_FLOW_MODULE');
    expect(stderr).toContain(`${name}.ts`);
    expect(stderr).toMatch(/loads itself/);
    expect(stderr).toMatch(/separate module/);
    expect(existsSync(out)).toBe(false);
  });

  it('a runner guarded to start after the module has loaded runs the flow', { timeout: 60_000 }, async () => {
    const out = join(dir, 'status.txt');
    const { code, stderr } = await runScript(fixture('guardedRunner'), out);
    expect(code, stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('completed');
  });
});

describe('a TypeScript flow module in a package that is not "type": "module"', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-cjs-flow-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // tsx runs it as CommonJS, and its require('@vf/core') gets a copy of its own: the Flow it builds
  // is not the loader's. Before, the error said that its factory returned no Flow, which it did.
  it('fails with INVALID_FLOW_MODULE saying why and how to make it an ES module', { timeout: 60_000 }, async () => {
    await mkdir(join(dir, 'node_modules', '@vf'), { recursive: true });
    await symlink(fileURLToPath(new URL('..', import.meta.url)), join(dir, 'node_modules', '@vf', 'core'), 'dir');
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'cjs-app', version: '1.0.0' }));
    await writeFile(
      join(dir, 'flow.ts'),
      [
        "import { defineFlow, Flow } from '@vf/core';",
        "import { IntProducer, VoidConsumer } from '@vf/core/nodes';",
        'export default defineFlow(() => {',
        '  const numbers = new IntProducer(0, 3);',
        '  return new Flow([numbers], [new VoidConsumer().from(numbers)]);',
        '});',
      ].join('\n'),
    );
    const host = join(dir, 'host.mjs');
    await writeFile(
      host,
      [
        "import { writeFileSync } from 'node:fs';",
        "import { Flow } from '@vf/core';",
        'try {',
        "  await Flow.load(new URL('./flow.ts', import.meta.url));",
        "  writeFileSync(process.argv[2], 'loaded');",
        '} catch (error) {',
        '  console.error(`${error.code}: ${error.message}`);',
        '  process.exit(1);',
        '}',
      ].join('\n'),
    );
    const out = join(dir, 'status.txt');
    const { code, stderr } = await runScript(host, out);
    expect(code, stderr).toBe(1);
    expect(stderr).toContain('INVALID_FLOW_MODULE');
    expect(stderr).toContain('another copy of @vf/core');
    expect(stderr).toContain('"type": "module"');
    expect(existsSync(out)).toBe(false);
  });
});
