import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RealtimeExecutionEngine } from '../src/index.js';
import { frameData } from './flows/frames.js';

const framesUrl = new URL('./flows/frames.ts', import.meta.url);

describe.runIf(process.platform === 'linux')('frames through shared memory (realtime engine)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-realtime-shm-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a slow sink: dropped frames free their segments for reuse, delivered ones are intact', {
    timeout: 90_000,
  }, async () => {
    const out = join(dir, 'out.jsonl');
    const count = 60;
    const queueSize = 1;
    const flow = await Flow.load(framesUrl, { count, workMs: 40, out });
    const engine = new RealtimeExecutionEngine({ queueSize });
    await flow.run(engine);
    const directory = engine.sharedMemoryDirectory as string;
    expect(directory).toBeDefined();
    // Sampled while the camera outruns the sink: the camera's pool of segments (`<nonce>-p<n>`).
    let most = 0;
    const joined = flow.join();
    let done = false;
    void joined.finally(() => {
      done = true;
    });
    while (!done) {
      if (existsSync(directory)) most = Math.max(most, readdirSync(directory).filter((name) => /-p[0-9]+$/.test(name)).length);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const report = await joined;
    expect(report.status).toBe('completed');
    const sink = report.nodes.find((node) => node.name === 'sink');
    expect(sink?.dropped).toBeGreaterThan(0);
    expect((sink?.received ?? 0) + (sink?.dropped ?? 0)).toBe(count);
    // Dropped frames let go of their segments (on arrival when read, when collected when mapped),
    // so the camera reuses a few segments instead of making one per frame.
    expect(most).toBeLessThan(count / 2);
    const delivered = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { index: number; sha: string });
    expect(delivered.length).toBe(sink?.received);
    for (const frame of delivered) expect(frame.sha).toBe(createHash('sha256').update(frameData(frame.index)).digest('hex'));
    expect(findLeftovers(engine)).toEqual([]);
  });

  it('camera → identity → slow sink: the identity forwards frames as links (no copy), dropped ones included; delivered ones intact', {
    timeout: 90_000,
  }, async () => {
    const out = join(dir, 'relayed.jsonl');
    const statsFile = join(dir, 'stats.jsonl');
    const count = 40;
    process.env.VF_SHARED_STATS = statsFile;
    try {
      const flow = await Flow.load(framesUrl, { count, workMs: 40, out, relay: true });
      const engine = new RealtimeExecutionEngine({ queueSize: 1 });
      await flow.run(engine);
      const report = await flow.join();
      expect(report.status).toBe('completed');
      const dropped = report.nodes.reduce((total, node) => total + node.dropped, 0);
      expect(dropped).toBeGreaterThan(0);
      const delivered = (await readFile(out, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { index: number; sha: string });
      expect(delivered.length).toBeGreaterThan(0);
      for (const frame of delivered) expect(frame.sha).toBe(createHash('sha256').update(frameData(frame.index)).digest('hex'));
      const stats = readFileSync(statsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { label: string; copied: number; forwarded: number });
      const relay = stats.find((line) => line.label.startsWith('relay#'));
      expect(relay).toMatchObject({ copied: 0 });
      expect(relay?.forwarded).toBeGreaterThan(0);
      expect(findLeftovers(engine)).toEqual([]);
    } finally {
      delete process.env.VF_SHARED_STATS;
    }
  });
});
