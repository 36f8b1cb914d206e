// Envelopes between tasks on one host travel through shared rings (issue 14, `transport/sharedRing.ts`),
// with ZeroMQ as the fallback for what does not fit. Whatever the sizes, every item arrives once and
// in order, the stream moves to ZeroMQ and back as the ring fills, and no ring is left behind.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { RING_BELL_ENV, RING_BYTES, RING_STATS_ENV } from '@vf/core/engine';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import { joinWithin, statsByNode } from './helpers.js';

const bulkUrl = new URL('./flows/bulk.ts', import.meta.url);

/** The rings' statistics summed per sending node (`label` is `node#replica>receiver`). */
const ringStatsByNode = (file: string) => statsByNode(file, ['entries', 'viaZmq', 'toZmq', 'doorbells']);

describe('shared rings between tasks on one host (batch engine)', () => {
  let dir: string;
  let flow: Flow | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-ring-'));
    process.env[RING_STATS_ENV] = join(dir, 'rings.jsonl');
  });
  afterEach(async () => {
    delete process.env[RING_STATS_ENV];
    delete process.env[RING_BELL_ENV];
    if (flow !== undefined) {
      flow.stop();
      await joinWithin(flow, 20_000).catch(() => undefined);
      flow = undefined;
    }
    await rm(dir, { recursive: true, force: true });
  });

  for (const [nbTasks, wakeUps] of [
    [1, 'bells'],
    [2, 'bells'],
    [2, 'ZeroMQ messages, no bells'],
  ] as const) {
    it(`messages of every size (tiny, filling the ring, larger than it takes), relay nbTasks ${nbTasks}, wake-ups by ${wakeUps}: each arrives once, in order`, {
      timeout: 90_000,
    }, async () => {
      if (wakeUps !== 'bells') process.env[RING_BELL_ENV] = '0';
      // Sizes cycle: tiny; 120 KB and 75 KB, a few of which fill the ring; 180 KB inline, larger than
      // a ring entry may be (a quarter of it), so every hop goes to ZeroMQ and back whatever the
      // timing; and a string longer than goes inline (64K characters), which travels as a raw frame.
      const padChars = [0, 40_000, 3, RING_BYTES / 3, 25_000, 10, 60_000];
      const params = { items: 700, nbTasks, out: join(dir, 'verdict.json'), padChars };
      flow = await Flow.load(bulkUrl, params);
      const engine = new BatchExecutionEngine({ queueSize: 32 });
      await flow.run(engine);
      const report = await joinWithin(flow, 80_000);
      flow = undefined;
      expect(report.status).toBe('completed');
      expect(JSON.parse(await readFile(params.out, 'utf8'))).toEqual({ received: 700, inOrder: 700, wrong: 0 });
      const stats = await ringStatsByNode(join(dir, 'rings.jsonl'));
      // Every hop used its rings, fell back to ZeroMQ when they filled, and came back to them.
      for (const node of ['burst', 'first', 'second']) {
        expect(stats[node]?.entries, node).toBeGreaterThan(100);
        expect(stats[node]?.toZmq, node).toBeGreaterThan(0);
        expect(stats[node]?.viaZmq, node).toBeGreaterThanOrEqual(stats[node]?.toZmq ?? 1);
        // The 180 KB items at least (one in 7) went on ZeroMQ at every hop.
        expect(stats[node]?.viaZmq, node).toBeGreaterThanOrEqual(params.items / padChars.length);
      }
      expect(findLeftovers(engine)).toEqual([]);
    });
  }

  it('small messages all go through the ring, the end of the stream too: no ZeroMQ fallback', {
    timeout: 60_000,
  }, async () => {
    const params = { items: 5_000, nbTasks: 1, out: join(dir, 'verdict.json') };
    flow = await Flow.load(bulkUrl, params);
    const engine = new BatchExecutionEngine({ queueSize: 16 });
    await flow.run(engine);
    const report = await joinWithin(flow, 50_000);
    flow = undefined;
    expect(report.status).toBe('completed');
    expect(JSON.parse(await readFile(params.out, 'utf8'))).toEqual({ received: 5_000, inOrder: 5_000, wrong: 0 });
    const stats = await ringStatsByNode(join(dir, 'rings.jsonl'));
    expect(stats.burst?.entries).toBe(5_001); // the items and the end of the stream
    expect(stats.burst?.viaZmq).toBe(0);
    expect(stats.burst?.toZmq).toBe(0);
    expect(findLeftovers(engine)).toEqual([]);
  });
});
