import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeVideo } from '@vf/vision';
import { afterAll, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../src/analyzeVideo.js';
import { INTERRUPTED_EXIT_CODE } from '../src/cli.js';
import { type CliRun, leftovers, startCli } from './support/runCli.js';

/**
 * Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the CLI, its task
 * processes and every ffmpeg child alike. The CLI runs in a group of its own here, as a shell
 * would start it, and the test signals that group.
 */
describe('Ctrl-C (SIGINT to the process group) while the demo runs', () => {
  const out = mkdtempSync(join(tmpdir(), 'vf-demo-sigint-'));
  let cli: CliRun | undefined;

  afterAll(async () => {
    if (cli?.child.pid !== undefined && cli.child.exitCode === null) {
      try {
        process.kill(-cli.child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(out, { recursive: true, force: true });
  });

  it('stops the flow, writes summary.json (status stopped) and a playable MP4 of what was processed, leaves nothing behind', async () => {
    // 30 s of video at 25 fps: far more than the flow gets through before the signal.
    cli = startCli(['--sample', '--output', out, '--duration', '30', '--size', '320x180', '--detector-tasks', '2'], { detached: true });
    const run = cli;
    const pid = run.child.pid as number;
    // Plain progress lines (stdout is no terminal): wait until frames are written.
    await waitFor(() => /written [1-9]\d*/.test(run.stdout()), 120_000, 'progress with frames written');
    process.kill(-pid, 'SIGINT');
    const { code, stdout, stderr } = await withTimeout(run.done, 60_000, 'the CLI to exit after SIGINT');

    const output = `stdout:\n${stdout}\nstderr:\n${stderr}`;
    expect(stderr, output).not.toMatch(/EPIPE|exited with|Error/);
    expect(code, output).toBe(INTERRUPTED_EXIT_CODE);
    expect(stdout).toMatch(/flow stopped in/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as DemoSummary;
    expect(summary.status).toBe('stopped');
    expect(summary.frames).toBeGreaterThan(0);
    expect(summary.frames).toBeLessThan(30 * 25);
    expect(existsSync(join(out, 'annotated.mp4'))).toBe(true);
    const video = await probeVideo(join(out, 'annotated.mp4'), { countFrames: true });
    expect(video).toMatchObject({ width: 320, height: 180, codec: 'h264' });
    expect(video.frames).toBeGreaterThan(0);
    expect(await leftovers(run.marker)).toEqual([]);
  }, 240_000);

  it('a second Ctrl-C quits at once (exit 130), and the task processes and ffmpeg children still go', async () => {
    const forced = mkdtempSync(join(tmpdir(), 'vf-demo-sigint2-'));
    try {
      cli = startCli(['--sample', '--output', forced, '--duration', '30', '--size', '320x180', '--detector-tasks', '2'], {
        detached: true,
      });
      const run = cli;
      const pid = run.child.pid as number;
      await waitFor(() => /written [1-9]\d*/.test(run.stdout()), 120_000, 'progress with frames written');
      // The second Ctrl-C goes out the moment the CLI says it stops (no polling interval): a clean
      // stop of this small flow can take only a few hundred ms.
      const stopping = new Promise<void>((resolve) => {
        const listener = (text: string) => {
          if (!/Ctrl-C again to quit at once/.test(run.stdout() + text)) return;
          run.child.stdout?.off('data', listener);
          resolve();
        };
        run.child.stdout?.on('data', listener);
      });
      process.kill(-pid, 'SIGINT');
      await withTimeout(stopping, 10_000, 'the CLI to say it stops');
      let secondSent = true;
      try {
        process.kill(-pid, 'SIGINT');
      } catch (error) {
        // ESRCH: the clean stop ended the whole group first. Then it exits as a stopped run does.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
        secondSent = false;
      }
      const { code, stdout } = await withTimeout(run.done, 30_000, 'the CLI to quit after the second SIGINT');
      if (!secondSent) console.log('interrupt test: the clean stop finished before the second Ctrl-C could be sent');
      expect(code, stdout).toBe(INTERRUPTED_EXIT_CODE);
      // Orphaned tasks notice the host is gone (their control channel closes) and exit within seconds.
      expect(await leftovers(run.marker, 10_000)).toEqual([]);
    } finally {
      rmSync(forced, { recursive: true, force: true });
    }
  }, 240_000);
});

async function waitFor(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
