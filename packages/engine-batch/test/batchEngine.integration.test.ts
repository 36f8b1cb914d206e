import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow, FlowValidationError, TaskFailedError } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';

const flowUrl = (name: string) => new URL(`./flows/${name}.ts`, import.meta.url);
const linearUrl = new URL('../../core/src/testing/flows/linear.ts', import.meta.url);

/** The run left nothing behind: every task process gone, the socket directory removed. */
function expectNothingLeft(engine: BatchExecutionEngine): void {
  expect(engine.pids.length).toBeGreaterThan(0);
  expect(findLeftovers(engine)).toEqual([]);
}

/** Whether this machine has an IPv6 loopback address. */
function hasIpv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((addresses) =>
    addresses?.some((address) => address.family === 'IPv6' && address.address === '::1'),
  );
}

const readLines = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);

describe('BatchExecutionEngine', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-batch-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ends every run of a fan-in flow whose sink ends three streams at once', { timeout: 120_000 }, async () => {
    // Timing-dependent when it regressed (one run in four hung): repeat to make a regression visible.
    for (let run = 0; run < 6; run++) {
      const out = join(dir, `fan-in-${run}.jsonl`);
      const flow = await Flow.load(flowUrl('fanIn'), { end: 200, out });
      const engine = new BatchExecutionEngine({ queueSize: 8 });
      await flow.run(engine);
      const report = await flow.join();
      expect(report.error?.message).toBeUndefined();
      expect(report.status).toBe('completed');
      const lines = (await readLines(out)) as [number, number][];
      expect(lines).toHaveLength(201);
      expect(lines.at(-1)).toEqual([200 * 200, (200 * 201 * 401) / 6]);
      expectNothingLeft(engine);
    }
  });

  it('delivers 10,000 items exactly once and in order through nbTasks: 3', { timeout: 60_000 }, async () => {
    const out = join(dir, 'out.jsonl');
    const flow = await Flow.load(linearUrl, { end: 9_999, out, nbTasks: 3, maxDelayMs: 0 });
    const engine = new BatchExecutionEngine({ queueSize: 8 });
    await flow.run(engine);
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(await readLines(out)).toEqual(Array.from({ length: 10_000 }, (_, index) => index));
    const identity = report.nodes.find((node) => node.name === 'identity');
    expect(identity?.tasks).toBe(3);
    expect(identity?.received).toBe(10_000);
    expect(report.nodes.find((node) => node.name === 'sink')?.received).toBe(10_000);
    expectNothingLeft(engine);
  });

  it('carries 1080p frames (1920×1080×3 Uint8Array) byte-identical, also over tcp', { timeout: 60_000 }, async () => {
    for (const transport of ['ipc', 'tcp'] as const) {
      const out = join(dir, `${transport}.jsonl`);
      const flow = await Flow.load(flowUrl('frames'), { count: 6, out, nbTasks: 2 });
      const engine = new BatchExecutionEngine({ queueSize: 2, transport });
      await flow.run(engine);
      const report = await flow.join();
      expect(report.status).toBe('completed');
      const { SyntheticFrames } = await import('./flows/frames.js');
      const { createHash } = await import('node:crypto');
      const expected = [...new SyntheticFrames(6).produce()].map((frame) => ({
        index: frame.index,
        type: 'Uint8Array',
        bytes: 1920 * 1080 * 3,
        sha: createHash('sha256').update(frame.data).digest('hex'),
      }));
      expect(await readLines(out)).toEqual(expected);
      expectNothingLeft(engine);
    }
  });

  // tcp sockets refuse frames over 16 MiB + 64 KiB (peerIdentity.integration.test: a stranger's frame was
  // buffered whole, up to 2 GiB), so larger raw frames travel in chunks: with the bound alone, every
  // value here but the one at the chunk size and the large header would break the link.
  it('carries values whose raw frames exceed the tcp frame bound byte-identical over CURVE tcp, in chunks', {
    timeout: 120_000,
  }, async () => {
    const out = join(dir, 'large.jsonl');
    const flow = await Flow.load(flowUrl('largeFrames'), { out });
    const engine = new BatchExecutionEngine({ queueSize: 2, transport: 'tcp' });
    await flow.run(engine);
    const report = await flow.join();
    expect(report.error?.message).toBeUndefined();
    expect(report.status).toBe('completed');
    const { digest, largeValues } = await import('./flows/largeFrames.js');
    expect(await readLines(out)).toEqual(largeValues().map(({ value }) => digest(value)));
    expectNothingLeft(engine);
  });

  // Before, tasks bound IPv6 addresses without ZeroMQ's ipv6 option: 'No such device' (ENODEV).
  it.skipIf(!hasIpv6Loopback())('runs over tcp on an IPv6 host address ([::1]), with and without CURVE', { timeout: 60_000 }, async () => {
    for (const curve of [true, false]) {
      const out = join(dir, `ipv6-${curve}.jsonl`);
      const flow = await Flow.load(linearUrl, { end: 99, out, nbTasks: 2, maxDelayMs: 0 });
      const engine = new BatchExecutionEngine({ transport: 'tcp', host: '[::1]', curve });
      await flow.run(engine);
      const report = await flow.join();
      expect(report.error?.message).toBeUndefined();
      expect(await readLines(out)).toEqual(Array.from({ length: 100 }, (_, index) => index));
      // The two identity replicas and the sink listen on [::1] (the producer binds nothing).
      expect(engine.endpoints?.filter((endpoint) => /^tcp:\/\/\[::1\]:\d+$/.test(endpoint))).toHaveLength(3);
      expectNothingLeft(engine);
    }
  });

  it('fails fast when a task is SIGKILLed: TaskFailedError, no process or socket left', { timeout: 60_000 }, async () => {
    const pidFile = join(dir, 'pids');
    const out = join(dir, 'out.jsonl');
    const flow = await Flow.load(flowUrl('killable'), { pidFile, out });
    const engine = new BatchExecutionEngine({ queueSize: 4 });
    await flow.run(engine);
    const deadline = Date.now() + 20_000;
    while (!existsSync(out) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const victimPid = Number((await readFile(pidFile, 'utf8')).trim());
    const killedAt = Date.now();
    process.kill(victimPid, 'SIGKILL');
    const report = await flow.join();
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    expect(report.status).toBe('failed');
    expect(report.error).toBeInstanceOf(TaskFailedError);
    expect(report.error?.nodeName).toBe('victim');
    expect(report.error?.message).toContain('SIGKILL');
    expectNothingLeft(engine);
  });

  it('runs FunctionProcessorNodes (replicated, and a join) rebuilt from the flow module in every task', { timeout: 60_000 }, async () => {
    const out = join(dir, 'out.jsonl');
    const flow = await Flow.load(flowUrl('functions'), { end: 99, out, nbTasks: 2, offset: 1000 });
    const engine = new BatchExecutionEngine({ queueSize: 4 });
    await flow.run(engine);
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(await readLines(out)).toEqual(Array.from({ length: 100 }, (_, index) => `${index + 1000}:${index * index}`));
    expect(report.nodes.find((node) => node.name === 'square')?.tasks).toBe(2);
    expectNothingLeft(engine);
  });

  it('rejects a flow built in place (no flow module) before starting anything', async () => {
    const numbers = new IntProducer(0, 3);
    const flow = new Flow([numbers], [new FileAppenderConsumer(join(dir, 'x')).from(numbers)]);
    const engine = new BatchExecutionEngine();
    await expect(flow.run(engine)).rejects.toMatchObject({ code: 'INVALID_FLOW_MODULE' });
    expect(engine.pids).toEqual([]);
  });

  it('rejects invalid options', () => {
    expect(() => new BatchExecutionEngine({ queueSize: 0 })).toThrow(FlowValidationError);
    expect(() => new BatchExecutionEngine({ transport: 'udp' as 'tcp' })).toThrow(/transport/);
    expect(() => new BatchExecutionEngine({ restartOnFailure: 'yes' as unknown as boolean })).toThrow(/restartOnFailure must be a boolean/);
    // Node fires a timer over 2^31-1 ms after 1 ms: such a readyTimeoutMs failed every flow at once, such a stopTimeoutMs aborted every stop.
    for (const option of ['readyTimeoutMs', 'killGraceMs', 'stopTimeoutMs'] as const) {
      expect(() => new BatchExecutionEngine({ [option]: 3e9 })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION', details: { option, value: '3000000000' } }),
      );
    }
  });
});
