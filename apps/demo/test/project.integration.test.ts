import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isProcessAlive } from '@vf/core/testing';
import type { StatusReport } from '@vf/groups';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VideoJobSummary } from '../src/project/videoOperations.js';
import { SAMPLE_SHAPES } from '../src/video/sampleVideo.js';
import { leftovers, newMarker, startCli } from './support/runCli.js';

const FPS = 25;
const SIZE = '320x180';
/** Two short videos of different lengths, so that each summary can be told apart. */
const DURATIONS_S = [1, 2] as const;
const ONE_DETECTOR = ['--detector-tasks', '1'];

/** The scripts `submit --pretend` printed one after the other, one per cluster job. */
function splitScripts(stdout: string): string[] {
  return stdout
    .split(/^(?=#!\/bin\/bash$)/m)
    .map((script) => script.trim())
    .filter((script) => script.startsWith('#!'));
}

describe('the demo as a FlowProject: two generated videos, run -o analyze, run, status', () => {
  const root = mkdtempSync(join(tmpdir(), 'vf-demo-project-'));
  // One marker for every process the test starts, so that anything left behind is found.
  const marker = newMarker();
  const pids: number[] = [];
  // The scheduler is named so that `submit --pretend` renders SLURM whether or not sbatch is installed.
  const cli = async (...args: string[]) => {
    const run = startCli(['project', '--root', root, ...args], { marker, env: { VF_SCHEDULER: 'slurm' } });
    if (run.child.pid !== undefined) pids.push(run.child.pid);
    return run.done;
  };
  const jobDirs = () => readdirSync(join(root, 'workspace')).map((id) => join(root, 'workspace', id));
  let scripts: string[] = [];

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  beforeAll(async () => {
    for (const duration of DURATIONS_S) {
      const init = await cli(
        'init',
        '--sample',
        '1',
        '--duration',
        String(duration),
        '--size',
        SIZE,
        '--fps',
        String(FPS),
        ...ONE_DETECTOR,
      );
      expect(init.stderr).toBe('');
      expect(init.code).toBe(0);
    }
  }, 60_000);

  it('init made one job per video, with the sample inside the project and the video probed', () => {
    const statepoints = jobDirs().map((dir) => JSON.parse(readFileSync(join(dir, 'vf_statepoint.json'), 'utf8')));
    expect(statepoints.map((sp) => sp.source).sort()).toEqual(['videos/sample-1.mp4', 'videos/sample-2.mp4']);
    expect(statepoints[0]).toMatchObject({ threshold: 40, minArea: 120, maxAge: 5, minHits: 3, iouThreshold: 0.2 });
    const documents = jobDirs().map((dir) => JSON.parse(readFileSync(join(dir, 'vf_job_document.json'), 'utf8')));
    expect(documents.map((doc) => doc.video.frames).sort()).toEqual(DURATIONS_S.map((s) => s * FPS));
    expect(documents.every((doc) => doc.detectorTasks === 1)).toBe(true);
  });

  it('status: analyze and detect eligible for both jobs, nothing complete', async () => {
    const { code, stdout } = await cli('status');
    expect(code).toBe(0);
    expect(stdout).toMatch(/│ analyze\s+│ detect, track │ 2\/2\s+│ 0\/2/);
    expect(stdout).toMatch(/│ track\s+│\s+│ 0\/2\s+│ 0\/2/);
  }, 30_000);

  it("submit --pretend prints a SLURM script per video with the group's directives, and writes nothing", async () => {
    const { code, stdout, stderr } = await cli('submit', '-o', 'analyze', '--pretend');
    expect([code, stderr]).toEqual([0, '']);
    scripts = splitScripts(stdout);
    expect(scripts).toHaveLength(2);
    const ids = jobDirs().map((dir) => basename(dir));
    for (const script of scripts) {
      // The project's name, then 8 hex digits of its root's hash (names unique per project root).
      const id = ids.find((candidate) =>
        new RegExp(`^#SBATCH --job-name=${basename(root)}-[0-9a-f]{8}\\.${candidate}\\.analyze$`, 'm').test(script),
      );
      expect(id, script).toBeDefined();
      // np = reader + 1 detector + writer; ngpu from detect; memory max(4g, 2g); walltime 0.75 + 0.25 h.
      for (const line of ['#SBATCH --ntasks=3', '#SBATCH --gres=gpu:1', '#SBATCH --mem=4G', '#SBATCH --time=01:00:00']) {
        expect(script).toContain(line);
      }
      expect(script).toMatch(new RegExp(`projectScript\\.ts run -o '\\^analyze\\$' -j ${id}$`, 'm'));
    }
    expect(existsSync(join(root, '.vf'))).toBe(false);
  }, 30_000);

  it('the printed script runs as it is (bash, as a SLURM node would): analyze completes on its job', () => {
    const script = join(tmpdir(), `vf-demo-slurm-${process.pid}.sh`);
    writeFileSync(script, scripts[0] ?? '');
    try {
      const result = spawnSync('bash', [script], {
        env: { ...process.env, VF_DEMO_TEST_MARKER: marker },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(
        /^detect {2}job \w{8} \(sample-\d\.mp4\): \d+ frames in [\d.]+ s, detector on (cpu|gpu:\d+) \(budget: np 3, ngpu 1\)$/m,
      );
      expect(result.stdout).toContain('ran 2 operation(s) in 1 pass(es)');
    } finally {
      rmSync(script, { force: true });
    }
  }, 150_000);

  it('run -o analyze processes the remaining eligible video (detect then track)', async () => {
    const { code, stdout, stderr } = await cli('run', '-o', 'analyze');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.match(/^detect {2}/gm)).toHaveLength(1);
    expect(stdout.match(/^track {3}/gm)).toHaveLength(1);
    expect(stdout).toContain('ran 2 operation(s) in 1 pass(es)');
  }, 150_000);

  it('run (every operation) summarizes both, and a second run has nothing to do', async () => {
    const first = await cli('run');
    expect([first.code, first.stderr]).toEqual([0, '']);
    expect(first.stdout.match(/^summary /gm)).toHaveLength(2);
    expect(first.stdout).toContain('ran 2 operation(s) in 1 pass(es)');
    const again = await cli('run');
    expect([again.code, again.stdout]).toEqual([0, 'ran 0 operation(s) in 0 pass(es)\n']);
  }, 60_000);

  it('status shows both jobs complete in every group', async () => {
    const table = await cli('status');
    expect(table.code).toBe(0);
    for (const group of ['analyze', 'detect', 'track', 'summarize'])
      expect(table.stdout).toMatch(new RegExp(`│ ${group}\\s+│[^│]*│ 0/2\\s+│ 2/2`));
    const json = await cli('status', '--json');
    const report = JSON.parse(json.stdout) as StatusReport;
    expect(report.jobs).toHaveLength(2);
    expect(report.groups.map((group) => [group.name, group.complete, group.eligible])).toEqual([
      ['analyze', 2, 0],
      ['detect', 2, 0],
      ['track', 2, 0],
      ['summarize', 2, 0],
    ]);
  }, 30_000);

  it('each summary counts one track per shape over every frame of its video', () => {
    const summaries = jobDirs().map((dir) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as VideoJobSummary);
    expect(summaries.map((summary) => summary.frames).sort()).toEqual(DURATIONS_S.map((s) => s * FPS));
    for (const summary of summaries) {
      expect(summary).toMatchObject({ tracks: SAMPLE_SHAPES, objects: SAMPLE_SHAPES, detectorTasks: 1 });
      expect(summary.video).toMatchObject({ width: 320, height: 180, frames: summary.frames });
      expect(summary.trackSpans.every((span) => span.frames > summary.frames * 0.8)).toBe(true);
      expect(summary.detect.detectorDevices).toHaveLength(1);
      expect(summary.detect.nodes.map((node) => node.name)).toEqual(['video', 'detector', 'detections']);
      const tracks = readFileSync(join(root, 'workspace', summary.job, 'tracks.jsonl'), 'utf8')
        .trim()
        .split('\n');
      expect(tracks).toHaveLength(summary.frames);
    }
  });

  it('leaves no process behind (CLIs, task processes, ffmpeg)', async () => {
    expect(await leftovers(marker)).toEqual([]);
    expect(pids.filter(isProcessAlive)).toEqual([]);
  });
});

describe('the project on bad input', () => {
  const root = mkdtempSync(join(tmpdir(), 'vf-demo-project-bad-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const cli = (...args: string[]) => startCli(['project', '--root', root, ...args]).done;

  it('status before init: exit 1, and says how to start', async () => {
    const { code, stderr } = await cli('status');
    expect(code).toBe(1);
    expect(stderr).toContain(`error [NOT_FOUND]: no project in ${root}`);
    expect(stderr).toContain('init --sample 2');
  }, 30_000);

  it('init with a missing video: exit 1 naming it, and no job', async () => {
    const missing = join(root, 'no-such-video.mp4');
    const { code, stderr } = await cli('init', missing);
    expect(code).toBe(1);
    expect(stderr).toContain(`error [VIDEO_NOT_FOUND]: video file ${missing} does not exist`);
    expect(existsSync(join(root, 'workspace'))).toBe(false);
  }, 30_000);

  it('a video gone since init: run -o analyze exits 1 naming the operation, job and file, and leaves no partial output', async () => {
    const init = await cli('init', '--sample', '1', '--duration', '0.2', '--size', SIZE);
    expect(init.code).toBe(0);
    rmSync(join(root, 'videos', 'sample-1.mp4'));
    const run = startCli(['project', 'run', '-o', 'analyze', '--root', root]);
    const { code, stderr } = await run.done;
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /error \[OPERATION_FAILED\]: operation "detect" failed on job \w{32} \(group "analyze"\): video file .*sample-1\.mp4 does not exist/,
    );
    const [job] = readdirSync(join(root, 'workspace'));
    expect(readdirSync(join(root, 'workspace', job!)).sort()).toEqual(['vf_job_document.json', 'vf_statepoint.json']);
    expect(await leftovers(run.marker)).toEqual([]);
  }, 60_000);
});
