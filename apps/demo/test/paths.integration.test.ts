import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../src/analyzeVideo.js';
import { generateSampleVideo } from '../src/video/sampleVideo.js';
import { appDir, leftovers, startCli } from './support/runCli.js';

const SAMPLE = { durationS: 1, fps: 10, width: 160, height: 96 };
const SMALL_RUN = ['--input', 'clips/clip.mp4', '--output', 'results', '--detector', 'motion', '--detector-tasks', '1', '--no-progress'];

/** `--input` and `--output` are the user's paths: relative ones start from where the user typed the command. */
describe('relative paths on the command line', () => {
  const userDir = mkdtempSync(join(tmpdir(), 'vf-demo-cwd-'));

  beforeAll(async () => {
    mkdirSync(join(userDir, 'clips'));
    await generateSampleVideo(join(userDir, 'clips', 'clip.mp4'), SAMPLE);
  }, 60_000);

  afterAll(() => rmSync(userDir, { recursive: true, force: true }));

  it('under pnpm (script run in apps/demo, the user directory in INIT_CWD): resolve against INIT_CWD', async () => {
    const cli = startCli(SMALL_RUN, { cwd: appDir, env: { INIT_CWD: userDir } });
    const { code, stdout, stderr } = await cli.done;
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    const summary = JSON.parse(readFileSync(join(userDir, 'results', 'summary.json'), 'utf8')) as DemoSummary;
    expect(summary).toMatchObject({ status: 'completed', input: join(userDir, 'clips', 'clip.mp4'), frames: 10 });
    expect(summary.output).toBe(join(userDir, 'results', 'annotated.mp4'));
    expect(await leftovers(cli.marker)).toEqual([]);
  }, 120_000);

  it('run directly (no INIT_CWD): resolve against the working directory', async () => {
    const cli = startCli(SMALL_RUN, { cwd: userDir, env: { INIT_CWD: undefined } });
    const { code, stdout, stderr } = await cli.done;
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    const summary = JSON.parse(readFileSync(join(userDir, 'results', 'summary.json'), 'utf8')) as DemoSummary;
    expect(summary).toMatchObject({ status: 'completed', input: join(userDir, 'clips', 'clip.mp4'), frames: 10 });
  }, 120_000);
});
