import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../src/analyzeVideo.js';
import { appDir, leftovers, startCli } from './support/runCli.js';

const repoDir = join(appDir, '..', '..');

/**
 * `vf-demo` as installed: `dist/main.js` under plain Node (no tsx, no source condition), so every
 * module it loads, the flow modules its task processes rebuild the flow from included, must be built.
 */
describe('the built binary (dist/main.js)', () => {
  const out = mkdtempSync(join(tmpdir(), 'vf-demo-dist-'));

  beforeAll(() => {
    // The demo and the workspace packages it imports (turbo: cached when nothing changed).
    const build = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@vf/demo...', '--output-logs=errors-only'], {
      cwd: repoDir,
      encoding: 'utf8',
      timeout: 540_000,
      env: { ...process.env, DO_NOT_TRACK: '1', TURBO_TELEMETRY_DISABLED: '1' },
    });
    if (build.status !== 0)
      throw new Error(`the build failed (${build.error?.message ?? build.status}):\n${build.stdout}\n${build.stderr}`);
  }, 600_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs the job on a short generated video and writes its summary', async () => {
    const cli = startCli(
      ['--sample', '--output', out, '--duration', '1', '--fps', '10', '--size', '160x96', '--detector-tasks', '2', '--no-progress'],
      { entry: join(appDir, 'dist', 'main.js') },
    );
    const { code, stdout, stderr } = await cli.done;
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as DemoSummary;
    expect(summary).toMatchObject({ status: 'completed', frames: 10 });
    expect(summary.nodes.find((node) => node.name === 'detector')?.tasks).toBe(2);
    expect(await leftovers(cli.marker)).toEqual([]);
  }, 120_000);
});
