import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Flow } from '../flow/flow.js';
import { captureLogs } from '../testing/captureLogs.js';
import { CROSSED_TIME_JOINS } from '../testing/randomFlows.js';
import { InProcessEngine } from './inProcessEngine.js';

const randomFlow = new URL('../testing/flows/randomFlow.ts', import.meta.url);

describe('InProcessEngine and a deadlock of bounded queues', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-deadlock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (queueSize: number) => {
    const out = join(dir, `out-${queueSize}.jsonl`);
    const flow = await Flow.load(randomFlow, { spec: CROSSED_TIME_JOINS, out });
    await flow.run(new InProcessEngine({ queueSize }), { handleSigint: false });
    // Before, the flow waited until stop(): bound the wait, so that it fails rather than hangs.
    const timer = setTimeout(() => flow.stop(), 20_000);
    const report = await flow.join().finally(() => clearTimeout(timer));
    return { status: report.status, written: await readFile(out, 'utf8') };
  };

  it('lends room where every task waits (queueSize 1), warns once per edge, and writes what 64-message queues write', {
    timeout: 60_000,
  }, async () => {
    const logs = captureLogs('warn');
    const tight = await run(1).finally(() => logs.stop());
    const roomy = await run(64);
    expect(tight.status).toBe('completed');
    expect(tight.written).toBe(roomy.written);
    expect(tight.written.trim().split('\n')).toHaveLength(12);
    const warnings = logs.records.filter((record) => record.code === 'VF_QUEUE_DEADLOCK').map((record) => record.msg);
    expect(warnings.length).toBeGreaterThan(0);
    expect(new Set(warnings).size).toBe(warnings.length);
    for (const warning of warnings) expect(warning).toMatch(/^p\d -> n\d: every task of the flow waited/);
  });
});
