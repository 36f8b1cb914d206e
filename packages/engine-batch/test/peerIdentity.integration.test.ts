// Peer identity on the data path (issue 13): only the run's own tasks can join an edge. A foreign
// ZeroMQ socket that connects to a task and claims to be one of its parents is refused; whatever it
// sends is dropped unread and counted (`rejected`), and the flow goes on with exactly its own items.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
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
  let stranger: Socket | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-peers-'));
  });
  afterEach(async () => {
    intruder?.close();
    intruder = undefined;
    stranger?.destroy();
    stranger = undefined;
    if (flow !== undefined) {
      flow.stop();
      await joinWithin(flow, 20_000).catch(() => undefined);
      flow = undefined;
    }
    await rm(dir, { recursive: true, force: true });
  });

  // Before, no tcp socket set ZeroMQ's maxMessageSize: libzmq allocates the size a frame announces
  // before CURVE has authenticated its sender, so a stranger made a task buffer up to 2 GiB per
  // connection, held until the handshake timed out (30 s; 1.5 GB measured). This test's stranger
  // had 64 MiB accepted and the connection kept open past the deadline.
  it('over CURVE tcp: a stranger without keys announcing a 1 GiB frame is disconnected at once, the flow unharmed', {
    timeout: 60_000,
  }, async () => {
    const items = 20;
    const params = { items, intervalMs: 0, goFile: join(dir, 'go'), out: join(dir, 'out.txt') };
    flow = await Flow.load(livenessUrl, params);
    const engine = new BatchExecutionEngine({ transport: 'tcp' });
    await flow.run(engine);
    await waitFor(async () => (await lines(params.out)).length >= 5, 'items to reach the sink');
    const sink = engine.taskProgress().find((task) => task.nodeName === 'sink');
    const endpoint = sink === undefined ? undefined : engine.endpoints?.[sink.taskId];
    const address = endpoint === undefined ? undefined : /^tcp:\/\/(.+):(\d+)$/.exec(endpoint);
    if (address === null || address === undefined) throw new Error(`no tcp endpoint for the sink: ${endpoint}`);

    const outcome = await floodWithOneFrame(address[1] as string, Number(address[2]), (socket) => {
      stranger = socket;
    });
    expect(outcome).toMatchObject({ greeted: true, closedByPeer: true });
    // Dropped on reading the frame's size, not after its bytes: what got through is the kernel's buffers at most.
    expect(outcome.written).toBeLessThan(STRANGER_BYTES);

    await writeFile(params.goFile, '');
    const report = await joinWithin(flow, 30_000);
    expect(report.status).toBe('completed');
    expect(await lines(params.out)).toEqual(Array.from({ length: items }, (_, value) => String(value)));
    expect(findLeftovers(engine)).toEqual([]);
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

/** What a stranger streams at most: four times the tcp frame bound (16 MiB + 64 KiB), cheap for the test. */
const STRANGER_BYTES = 64 * 1024 * 1024;
/** How long the stranger waits for the task to drop it (the handshake itself times out only after 30 s). */
const DROP_DEADLINE_MS = 10_000;

/**
 * Connects to a CURVE ROUTER at `host:port` as a stranger (plain TCP, no keys), exchanges ZMTP 3.0
 * greetings for CURVE, sends a command frame announcing 1 GiB, then streams its body until the peer
 * drops the connection, {@link STRANGER_BYTES} are written, or {@link DROP_DEADLINE_MS} pass.
 * Resolves with whether the peer greeted back (it is a ZeroMQ socket, and reached), whether it then
 * closed the connection, and how many body bytes were written by then.
 */
function floodWithOneFrame(
  host: string,
  port: number,
  opened: (socket: Socket) => void,
): Promise<{ greeted: boolean; closedByPeer: boolean; written: number }> {
  // ZMTP 3.0 greeting (RFC 23): signature, version 3.0, mechanism "CURVE", as-server 0, filler.
  const greeting = Buffer.alloc(64);
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting.write('CURVE', 12, 'latin1');
  // A command frame (the handshake's HELLO would be one) with a long size: 1 GiB.
  const frameHeader = Buffer.alloc(9);
  frameHeader[0] = 0x06;
  frameHeader.writeBigUInt64BE(1n << 30n, 1);
  const body = Buffer.alloc(1024 * 1024, 0x41);
  return new Promise((resolve) => {
    let written = 0;
    let received = 0;
    let settled = false;
    const socket = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    opened(socket);
    const settle = (closedByPeer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve({ greeted: received >= greeting.length, closedByPeer, written });
    };
    const deadline = setTimeout(() => settle(false), DROP_DEADLINE_MS);
    const stream = () => {
      while (!socket.destroyed && written < STRANGER_BYTES) {
        written += body.length;
        if (!socket.write(body)) {
          socket.once('drain', stream);
          return;
        }
      }
    };
    socket.on('connect', () => socket.write(greeting));
    // Once greeted back (its whole 64-byte greeting), the handshake's first frame: it announces 1 GiB.
    socket.on('data', (data: Buffer) => {
      const greetedBefore = received >= greeting.length;
      received += data.length;
      if (greetedBefore || received < greeting.length) return;
      socket.write(frameHeader);
      stream();
    });
    // A reset while writing (the peer is gone) is the outcome looked for, not a failure; a refused
    // connection is told apart by the missing greeting.
    socket.on('error', () => undefined);
    socket.on('close', () => settle(true));
  });
}
