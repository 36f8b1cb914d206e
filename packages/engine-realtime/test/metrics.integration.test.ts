import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RealtimeExecutionEngine } from '../src/index.js';

const overloadUrl = new URL('./flows/overload.ts', import.meta.url);

/** A Prometheus text exposition's `vf_task_dropped_total` samples: node → task → value. */
function droppedByTask(text: string): Record<string, Record<string, number>> {
  const byNode: Record<string, Record<string, number>> = {};
  for (const match of text.matchAll(/^vf_task_dropped_total\{node="([^"]+)",task="([^"]+)"\} (\S+)$/gm)) {
    const [, node, task, value] = match as unknown as [string, string, string, string];
    byNode[node] = { ...byNode[node], [task]: Number(value) };
  }
  return byNode;
}

const sum = (counts: Record<string, number> | undefined) => Object.values(counts ?? {}).reduce((total, count) => total + count, 0);

describe('the metrics endpoint of a realtime run', () => {
  let dir: string;
  let flow: Flow | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-realtime-metrics-'));
  });
  afterEach(async () => {
    await flow?.closeMetrics();
    flow = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('counts dropped messages on the node they were meant for, as the report does, after join()', { timeout: 60_000 }, async () => {
    // 300 items at 1000/s into 2 replicas of 8 ms each (~250/s at best, less on a busy machine)
    // with queues of 1: the camera's publisher replaces stale messages, and the replicas drop too.
    flow = await Flow.load(overloadUrl, { count: 300, fps: 1000, workMs: 8, out: join(dir, 'out.jsonl'), nbTasks: 2 });
    const engine = new RealtimeExecutionEngine({ queueSize: 1 });
    await flow.run(engine, { metrics: { port: 0 }, handleSigint: false });
    const report = await flow.join();
    expect(report.status).toBe('completed');
    const response = await fetch(`${flow.metricsUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const dropped = droppedByTask(await response.text());
    const detect = report.nodes.find((node) => node.name === 'detect');
    expect(detect?.dropped).toBeGreaterThan(0);
    for (const node of report.nodes) expect(sum(dropped[node.name]), `${node.name} dropped`).toBe(node.dropped);
    // Nothing is meant for the producer; every task has its series.
    expect(dropped.camera).toEqual({ '0': 0 });
    expect(Object.keys(dropped.detect ?? {})).toEqual(expect.arrayContaining(['0', '1']));
    expect(findLeftovers(engine)).toEqual([]);
  });
});
