import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lines } from './helpers.js';

const hostScript = fileURLToPath(new URL('./fixtures/host.ts', import.meta.url));
const warningsUrl = new URL('./flows/warnings.ts', import.meta.url);
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Occurrences of `needle` in `text`. */
const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('process warnings of a multi-process flow', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-warnings-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are printed once, by the host, however many task processes emit them', { timeout: 60_000 }, async () => {
    const out = join(dir, 'out.jsonl');
    // A host process of its own, so that its stderr, and its tasks' (inherited), can be read whole.
    const child = spawn(
      process.execPath,
      ['--import', tsxLoader, '--conditions=@vf/source', hostScript, warningsUrl.href, JSON.stringify({ out }), join(dir, 'info.json')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the host did not exit in 45 s; stderr so far:\n${stderr}`));
      }, 45_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    expect(exitCode, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ status: 'completed' });
    expect((await lines(out)).at(-1)).toBe(String((20 * 21) / 2));
    // vf's own warning: the host and all 6 tasks build the one-task "sum" with nbTasks 4.
    expect(count(stderr, '[VF_NBTASKS_IGNORED]'), stderr).toBe(1);
    expect(stderr).toContain('processor "sum" is a one-task processor: nbTasks 4 is ignored');
    // A node's own warning, emitted only in the 3 task processes of "noisy".
    expect(count(stderr, '[VF_TEST_NOISY]'), stderr).toBe(1);
  });
});
