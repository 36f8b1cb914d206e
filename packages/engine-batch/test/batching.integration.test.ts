// Small messages in bulk (issue 14): a publisher that outruns its child sends what waits for room
// in batches. Order, exactly-once delivery and backpressure hold at every queue size; a malformed
// batch frame from outside the run is refused and counted, never a crash.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { encodeValue, packDataHeader, packHeader } from '@vf/core/engine';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { BatchExecutionEngine } from '../src/index.js';
import { joinWithin, lines, waitFor } from './helpers.js';

const bulkUrl = new URL('./flows/bulk.ts', import.meta.url);
const livenessUrl = new URL('./flows/liveness.ts', import.meta.url);

describe('small messages in bulk (batch engine)', () => {
  let dir: string;
  let flow: Flow | undefined;
  let intruder: zmq.Dealer | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-bulk-'));
  });
  afterEach(async () => {
    intruder?.close();
    intruder = undefined;
    if (flow !== undefined) {
      flow.stop();
      await joinWithin(flow, 20_000).catch(() => undefined);
      flow = undefined;
    }
    await rm(dir, { recursive: true, force: true });
  });

  for (const [queueSize, nbTasks] of [
    [1, 1],
    [2, 1],
    [16, 1],
    [16, 2],
  ] as const) {
    it(`queueSize ${queueSize}, relay nbTasks ${nbTasks}: 3,000 unpaced items arrive exactly once, in order`, {
      timeout: 90_000,
    }, async () => {
      const params = { items: 3_000, nbTasks, out: join(dir, 'verdict.json') };
      flow = await Flow.load(bulkUrl, params);
      const engine = new BatchExecutionEngine({ queueSize });
      await flow.run(engine);
      const report = await joinWithin(flow, 80_000);
      flow = undefined;
      expect(report.status).toBe('completed');
      expect(JSON.parse(await readFile(params.out, 'utf8'))).toEqual({ received: 3_000, inOrder: 3_000, wrong: 0 });
      expect(report.nodes.find((node) => node.name === 'checker')?.received).toBe(3_000);
      expect(findLeftovers(engine)).toEqual([]);
    });
  }

  it('a producer stuck in synchronous code after 10 items: those 10 have reached the sink; stop() kills it', {
    timeout: 60_000,
  }, async () => {
    const params = { items: 100, nbTasks: 1, out: join(dir, 'verdict.json'), spinAfter: 10 };
    flow = await Flow.load(bulkUrl, params);
    const engine = new BatchExecutionEngine({ stopTimeoutMs: 1_000, killGraceMs: 500 });
    await flow.run(engine);
    const received = () => engine.taskProgress().find((task) => task.nodeName === 'checker')?.stats.received ?? 0;
    try {
      // The producer never yields again: nothing it published may wait for it to.
      await waitFor(() => received() >= 10, 'items 0-9 to reach the checker');
    } finally {
      flow.stop(); // also when the wait fails: the spinning task is killed after stopTimeoutMs
    }
    const report = await joinWithin(flow, 30_000);
    flow = undefined;
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('burst');
    expect(String((report.error?.cause as { code?: string } | undefined)?.code)).toBe('STOP_TIMEOUT');
    expect(JSON.parse(await readFile(params.out, 'utf8'))).toEqual({ received: 10, inOrder: 10, wrong: 0 });
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('a malformed batch frame from outside the run is refused and counted; the flow delivers exactly its own items', {
    timeout: 60_000,
  }, async () => {
    const items = 30;
    // The producer holds after item 10 until the go file exists: the intruder writes mid-run.
    const params = { items, intervalMs: 0, goFile: join(dir, 'go'), out: join(dir, 'out.txt') };
    flow = await Flow.load(livenessUrl, params);
    const engine = new BatchExecutionEngine();
    await flow.run(engine);
    await waitFor(async () => (await lines(params.out)).length >= 5, 'items to reach the sink');
    const sink = engine.taskProgress().find((task) => task.nodeName === 'sink');
    const endpoint = sink === undefined ? undefined : engine.endpoints?.[sink.taskId];
    if (endpoint === undefined) throw new Error('no sink endpoint');
    intruder = new zmq.Dealer({ linger: 0 });
    intruder.connect(endpoint);
    const item = [
      packDataHeader({ seq: 0, ticket: 0, taskIndex: 0, proctimeMs: 0, actualProctimeMs: 0, createdAt: 0 }, 1),
      ...encodeValue('forged'),
    ];
    // Lengths that overrun the payload; a well-formed batch of a forged item; a lone batch header.
    await intruder.send([packHeader(['b', [1_000_000]]), Buffer.concat(item)]);
    await intruder.send([packHeader(['b', item.map((frame) => frame.length)]), Buffer.concat(item)]);
    await intruder.send(packHeader(['b', [3]]));
    const rejected = () => engine.taskProgress().find((task) => task.nodeName === 'sink')?.stats.rejected ?? 0;
    await waitFor(() => rejected() >= 3, 'the sink to count the 3 batches it refused');
    await writeFile(params.goFile, '');
    const report = await joinWithin(flow, 30_000);
    flow = undefined;
    expect(report.status).toBe('completed');
    expect(await lines(params.out)).toEqual(Array.from({ length: items }, (_, value) => String(value)));
    expect(report.nodes.find((node) => node.name === 'sink')?.rejected).toBe(3);
    expect(findLeftovers(engine)).toEqual([]);
  });
});
