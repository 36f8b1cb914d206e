/**
 * A real Prometheus (Debian's `prometheus` package) scrapes the metrics endpoint of a batch run.
 * Skipped where no `prometheus` binary is on PATH.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { waitFor } from './helpers.js';

const hasPrometheus = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

/** A port free right now, for a server (Prometheus) that cannot report the one it was given by 0. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The value of a PromQL query's single sample, or undefined when it has none yet. */
async function query(base: string, promql: string): Promise<number | undefined> {
  const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(3_000) });
  const body = (await response.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
  const value = body.data?.result?.[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

describe.skipIf(!hasPrometheus)('Prometheus scraping a batch run', () => {
  let dir: string | undefined;
  let prometheus: ChildProcess | undefined;
  let flow: Flow | undefined;
  afterEach(async () => {
    await flow?.closeMetrics();
    if (prometheus !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGKILL');
      await exited;
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('stores the counters of the run, ending at the final report', { timeout: 90_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-prometheus-'));
    flow = await Flow.load(new URL('./flows/metered.ts', import.meta.url), { items: 300, workMs: 4 });
    await flow.run(new BatchExecutionEngine(), { metrics: { port: 0 }, handleSigint: false });
    const target = new URL(flow.metricsUrl ?? '').host;
    await writeFile(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\nscrape_configs:\n  - job_name: vf\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let log = '';
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr?.on('data', (chunk: Buffer) => {
      log = `${log}${chunk.toString()}`.slice(-4000);
    });
    const report = await flow.join();
    expect(report.status).toBe('completed');
    const sink = report.nodes.find((node) => node.name === 'sink');
    // The endpoint outlives the run while this process does: Prometheus reads the final counts.
    let stored: number | undefined;
    try {
      await waitFor(
        async () => {
          stored = await query(base, 'sum(vf_task_processed_total{job="vf",node="sink"})').catch(() => undefined);
          return stored === sink?.received;
        },
        "Prometheus to store the sink's items",
        60_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}: expected ${sink?.received}, last ${stored}; Prometheus said:\n${log}`);
    }
    expect(await query(base, 'up{job="vf"}')).toBe(1);
    expect(await query(base, 'sum(vf_task_emitted_total{job="vf",node="work"})')).toBe(
      report.nodes.find((node) => node.name === 'work')?.emitted,
    );
    expect(await query(base, 'sum(vf_node_processing_seconds_count{job="vf",node="work"})')).toBe(300);
  });
});
