import { describe, expect, it } from 'vitest';
import type { TaskProgress, TaskStats } from '../contracts/engine.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { VoidConsumer } from '../library/consumers.js';
import { IntProducer } from '../library/intProducer.js';
import { ProcessorNode } from '../nodes/processorNode.js';
import { Flow } from './flow.js';
import { buildLiveStats } from './liveStats.js';

function stats(partial: Partial<TaskStats>): TaskStats {
  return { received: 0, emitted: 0, dropped: 0, drops: [], processed: 0, proctimeTotalMs: 0, activeMs: 1000, ...partial };
}

function task(taskId: number, nodeName: string, taskIndex: number, partial: Partial<TaskStats>): TaskProgress {
  return { taskId, nodeName, taskIndex, device: 'cpu', stats: stats(partial) };
}

describe('buildLiveStats', () => {
  const nodes = [
    { name: 'source', kind: 'producer' as const, nbTasks: 1, parents: [] },
    { name: 'work', kind: 'processor' as const, nbTasks: 2, parents: [0] },
    { name: 'sink', kind: 'consumer' as const, nbTasks: 1, parents: [1] },
  ];

  it('sums replicas, and estimates each backlog as published minus handled minus dropped', () => {
    const live = buildLiveStats(
      nodes,
      [
        task(0, 'source', 0, { emitted: 50, processed: 50 }),
        task(1, 'work', 0, { received: 20, emitted: 20, processed: 20, proctimeTotalMs: 200 }),
        task(2, 'work', 1, {
          received: 18,
          emitted: 18,
          processed: 18,
          proctimeTotalMs: 180,
          drops: [{ from: 'source', to: 'work', count: 2 }],
        }),
        task(3, 'sink', 0, { received: 30, processed: 30 }),
      ],
      1234,
    );
    expect(live.elapsedMs).toBe(1234);
    expect(live.nodes.map((node) => [node.name, node.processed, node.queued])).toEqual([
      ['source', 50, 0],
      ['work', 38, 10],
      ['sink', 30, 8],
    ]);
    expect(live.nodes[1]).toMatchObject({ received: 38, emitted: 38, dropped: 2, meanProctimeMs: 10, tasks: 2 });
    expect(live.edges).toEqual([{ from: 'source', to: 'work', dropped: 2, failed: 0, deadLettered: 0 }]);
  });

  it('never reports a negative backlog when a child reported after its parent', () => {
    const live = buildLiveStats(nodes.slice(0, 2), [task(0, 'source', 0, { emitted: 5 }), task(1, 'work', 0, { received: 7 })], 10);
    expect(live.nodes[1]?.queued).toBe(0);
  });
});

class Slow extends ProcessorNode<[number], number> {
  async process(value: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return value;
  }
}

describe('flow.liveStats()', () => {
  it('is undefined before run(), advances while the flow runs, and ends with the final counters', async () => {
    const numbers = new IntProducer(0, 119, { name: 'numbers' });
    const slow = new Slow({ name: 'slow' }).from(numbers);
    const sink = new VoidConsumer({ name: 'sink' }).from(slow);
    const flow = new Flow([numbers], [sink]);
    expect(flow.liveStats()).toBeUndefined();
    await flow.run(new InProcessEngine({ queueSize: 2 }));
    const seen: number[] = [];
    const timer = setInterval(() => seen.push(flow.liveStats()?.nodes[2]?.processed ?? -1), 60);
    const report = await flow.join();
    clearInterval(timer);
    expect(report.status).toBe('completed');
    // Reports arrive every 250 ms while the ~0.7 s flow runs: some value strictly between 0 and the end.
    expect(seen.some((processed) => processed > 0 && processed < 120)).toBe(true);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    const final = flow.liveStats();
    expect(final?.nodes.map((node) => node.processed)).toEqual([120, 120, 120]);
    expect(final?.nodes.every((node) => node.queued === 0)).toBe(true);
  });
});
