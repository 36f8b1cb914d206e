import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RealtimeExecutionEngine } from '../src/index.js';

const camerasUrl = new URL('./flows/cameras.ts', import.meta.url);

describe('RealtimeExecutionEngine: time-synchronized join of live cameras (E6)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-timejoin-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Stamped event times make the grouping independent of when frames arrive; queueSize 16 gives the
  // join room for a 300 ms hiccup of a loaded machine, so no frame is dropped as stale.
  it('two 50 fps cameras, the second losing every 3rd frame, tolerance 12 ms, timeout 250 ms, quorum 1: 150 groups, 100 complete, 50 with camera 1 only', {
    timeout: 60_000,
  }, async () => {
    const out = join(dir, 'groups.jsonl');
    const flow = await Flow.load(camerasUrl, {
      out,
      stamp: true,
      slots: 150,
      periodMs: 20,
      toleranceMs: 12,
      timeoutMs: 250,
    });
    const engine = new RealtimeExecutionEngine({ queueSize: 16 });
    await flow.run(engine);
    const report = await flow.join();
    expect(report.status).toBe('completed');
    const groups = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as [number | null, number | null]);
    expect(groups).toEqual(Array.from({ length: 150 }, (_, slot) => [slot, slot % 3 === 2 ? null : slot]));
    expect(report.nodes.find((node) => node.name === 'sink')?.joins).toEqual({ complete: 100, partial: 50, dropped: 0 });
    expect(report.edges).toEqual([]);
    expect(String(report)).toContain('sink joined by time: 100 complete, 50 partial, 0 dropped groups');
    expect(findLeftovers(engine)).toEqual([]);
  });
});
