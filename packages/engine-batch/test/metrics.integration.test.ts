import { Flow, type FlowReport, isVfError } from '@vf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { waitFor } from './helpers.js';

const meteredUrl = new URL('./flows/metered.ts', import.meta.url);

/** A Prometheus text exposition as `name{labels}` → value (HELP and TYPE lines left out). */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The sum of every sample of `metric` whose labels include `node="<node>"`. */
function sumFor(samples: Map<string, number>, metric: string, node: string): number {
  let total = 0;
  for (const [key, value] of samples) if (key.startsWith(`${metric}{`) && key.includes(`node="${node}"`)) total += value;
  return total;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, text: await response.text() };
}

describe('the metrics endpoint of a batch run', () => {
  let flow: Flow | undefined;
  afterEach(async () => {
    await flow?.closeMetrics();
    flow = undefined;
  });

  it('serves counters during the run that end equal to the final report, with /healthz and /readyz', { timeout: 60_000 }, async () => {
    flow = await Flow.load(meteredUrl, { items: 400, workMs: 4 });
    const running = flow;
    await running.run(new BatchExecutionEngine(), { metrics: { port: 0 }, handleSigint: false });
    const base = running.metricsUrl ?? '';
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await get(`${base}/healthz`)).toEqual({ status: 200, text: 'ok\n' });
    // A scrape while the flow runs: some items through, not all of them yet.
    let during = new Map<string, number>();
    let readyWhileRunning = 0;
    await waitFor(async () => {
      readyWhileRunning = (await get(`${base}/readyz`)).status;
      during = parseMetrics((await get(`${base}/metrics`)).text);
      return sumFor(during, 'vf_task_processed_total', 'sink') > 0;
    }, 'a scrape showing consumed items');
    expect(readyWhileRunning).toBe(200);
    expect(during.get('vf_flow_running')).toBe(1);
    const report: FlowReport = await running.join();
    expect(report.status).toBe('completed');
    expect(sumFor(during, 'vf_task_processed_total', 'sink')).toBeLessThan(400);

    const after = parseMetrics((await get(`${base}/metrics`)).text);
    for (const node of report.nodes) {
      expect(sumFor(after, 'vf_task_received_total', node.name), `${node.name} received`).toBe(node.received);
      expect(sumFor(after, 'vf_task_emitted_total', node.name), `${node.name} emitted`).toBe(node.emitted);
      expect(sumFor(after, 'vf_task_dropped_total', node.name), `${node.name} dropped`).toBe(node.dropped);
      // Counters only grow: what the first scrape saw is at most the final count.
      expect(sumFor(during, 'vf_task_emitted_total', node.name)).toBeLessThanOrEqual(node.emitted);
      expect(after.get(`vf_node_processing_seconds_count{node="${node.name}"}`), `${node.name} timed items`).toBe(
        sumFor(after, 'vf_task_processed_total', node.name),
      );
    }
    expect(sumFor(after, 'vf_task_processed_total', 'sink')).toBe(400);
    expect(after.get('vf_task_emitted_total{node="work",task="0"}')).toBeGreaterThan(0);
    expect(after.get('vf_task_emitted_total{node="work",task="1"}')).toBeGreaterThan(0);
    // 4 ms of work per item: the histogram puts the work node's items above 1 ms.
    expect(after.get('vf_node_processing_seconds_bucket{le="0.001",node="work"}')).toBe(0);
    expect(after.get('vf_tasks_lost')).toBe(0);
    expect(after.get('vf_flow_running')).toBe(0);
    expect(await get(`${base}/readyz`)).toEqual({ status: 503, text: 'finished\n' });
  });

  it('refuses a port that is not one, before anything starts', async () => {
    flow = await Flow.load(meteredUrl, { items: 3, workMs: 0 });
    let caught: unknown;
    try {
      await flow.run(new BatchExecutionEngine(), { metrics: { port: -1 }, handleSigint: false });
    } catch (error) {
      caught = error;
    }
    expect(isVfError(caught) && caught.code).toBe('INVALID_OPTION');
    expect(String(caught)).toContain('metrics must be { port }');
    expect(flow.metricsUrl).toBeUndefined();
  });
});
