// Peer identity on the data path (issue 13): only the run's own tasks can join an edge. A foreign
// ZeroMQ socket that connects to a task and claims to be one of its parents is refused; whatever it
// sends is dropped unread and counted (`rejected`), and the flow goes on with exactly its own items.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { encodeValue } from '@vf/core/engine';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { BatchExecutionEngine } from '../src/index.js';
import { joinWithin, lines, waitFor } from './helpers.js';

const livenessUrl = new URL('./flows/liveness.ts', import.meta.url);

describe('peer identity on the data path (batch engine)', () => {
  let dir: string;
  let flow: Flow | undefined;
  let intruder: zmq.Dealer | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-peers-'));
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

  for (const transport of ['ipc', 'tcp'] as const) {
    it(`over ${transport}: a foreign socket claiming a connected parent is refused and counted; the flow delivers exactly its own items`, {
      timeout: 60_000,
    }, async () => {
      const items = 30;
      // The producer holds after item 10 until the go file exists: the attack happens mid-run.
      const params = { items, intervalMs: 0, goFile: join(dir, 'go'), out: join(dir, 'out.txt') };
      flow = await Flow.load(livenessUrl, params);
      // tcp without CURVE (an explicit opt-out): only the hello proof keeps strangers out.
      const engine = new BatchExecutionEngine(transport === 'tcp' ? { transport, curve: false } : { transport });
      await flow.run(engine);
      await waitFor(async () => (await lines(params.out)).length >= 5, 'items to reach the sink');
      const progress = engine.taskProgress();
      const sink = progress.find((task) => task.nodeName === 'sink');
      const parent = progress.find((task) => task.nodeName === 'worker');
      const endpoint = sink === undefined ? undefined : engine.endpoints?.[sink.taskId];
      if (sink === undefined || parent === undefined || endpoint === undefined) throw new Error('no sink endpoint');
      expect(endpoint.startsWith(`${transport}://`)).toBe(true);

      intruder = new zmq.Dealer({ linger: 0 });
      intruder.connect(endpoint);
      // A second hello for the connected parent, a forged item, a forged proof, and a malformed envelope.
      await intruder.send(encodeValue(['h', parent.taskId]));
      await intruder.send(encodeValue(['d', 0, 0, 0, 0, 0, 0, 'forged', 0]));
      await intruder.send(encodeValue(['p', parent.taskId, '00'.repeat(32)]));
      await intruder.send(encodeValue(['d', 0, 0, 0, 0, 0, 0, { huge: true }, 2 ** 30]));
      const rejected = () => engine.taskProgress().find((task) => task.nodeName === 'sink')?.stats.rejected ?? 0;
      await waitFor(() => rejected() >= 4, 'the sink to count the 4 messages it refused');
      await writeFile(params.goFile, '');

      const report = await joinWithin(flow, 30_000);
      expect(report.status).toBe('completed');
      expect(await lines(params.out)).toEqual(Array.from({ length: items }, (_, value) => String(value)));
      expect(report.nodes.find((node) => node.name === 'sink')?.rejected).toBe(4);
      expect(report.format()).toContain('sink refused 4 messages from peers outside the run');
      expect(findLeftovers(engine)).toEqual([]);
    });
  }
});
