import { describe, expect, it } from 'vitest';
import type { TaskOutcome, TaskStats } from '../contracts/engine.js';
import type { MessageMetadata } from '../contracts/messenger.js';
import { TaskFailedError } from '../errors.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { IntProducer } from '../library/intProducer.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { ProcessorNode } from '../nodes/processorNode.js';
import { Flow } from './flow.js';
import { buildReport, formatReport, type NodeReport } from './report.js';

type Kind = NodeReport['kind'];

let taskId = 0;
function outcome(nodeName: string, taskIndex: number, stats: Partial<TaskStats>): TaskOutcome {
  return {
    taskId: taskId++,
    nodeName,
    taskIndex,
    device: 'cpu',
    status: 'completed',
    stats: { received: 0, emitted: 0, dropped: 0, drops: [], processed: 0, proctimeTotalMs: 0, activeMs: 0, ...stats },
  };
}

function node(name: string, kind: Kind, nbTasks = 1) {
  return { name, kind, nbTasks };
}

function row(report: { nodes: readonly NodeReport[] }, name: string): NodeReport {
  const found = report.nodes.find((entry) => entry.name === name);
  if (found === undefined) throw new Error(`no row ${name}`);
  return found;
}

describe('buildReport', () => {
  const nodes = [node('camera', 'producer'), node('detect', 'processor', 2), node('idle', 'processor'), node('sink', 'consumer')];
  const outcomes = [
    // 10 items at 1 ms each: 1000 fps possible.
    // A realtime publisher that kept 2 stale messages from detect.
    outcome('camera', 0, {
      emitted: 10,
      processed: 10,
      proctimeTotalMs: 10,
      activeMs: 500,
      drops: [{ from: 'camera', to: 'detect', count: 2 }],
    }),
    // Two replicas, 5 items each at 20 ms: mean 20 ms, 2 tasks → 100 fps possible.
    outcome('detect', 1, { received: 5, emitted: 5, processed: 5, proctimeTotalMs: 100, activeMs: 400 }),
    outcome('detect', 0, {
      received: 5,
      emitted: 5,
      processed: 5,
      proctimeTotalMs: 100,
      activeMs: 500,
      drops: [{ from: 'camera', to: 'detect', count: 3 }],
    }),
    // Processed nothing: never the bottleneck, even with no speed at all.
    outcome('idle', 0, {}),
    // 10 items at 4 ms: 250 fps possible.
    outcome('sink', 0, {
      received: 10,
      processed: 10,
      proctimeTotalMs: 40,
      activeMs: 250,
      drops: [{ from: 'detect', to: 'sink', count: 1 }],
    }),
  ];

  it('aggregates counts over the tasks of each node', () => {
    const report = buildReport({ status: 'completed', durationMs: 600, nodes, outcomes });
    const detect = row(report, 'detect');
    expect(detect.tasks).toBe(2);
    expect(detect.device).toEqual(['cpu', 'cpu']);
    expect(detect.received).toBe(10);
    expect(detect.emitted).toBe(10);
    // Drops count against the node they were meant for, wherever they happened (publisher or receiver).
    expect(detect.dropped).toBe(5);
    expect(row(report, 'sink').dropped).toBe(1);
    expect(row(report, 'camera').dropped).toBe(0);
    expect(report.edges).toEqual([
      { from: 'camera', to: 'detect', dropped: 5, failed: 0, deadLettered: 0 },
      { from: 'detect', to: 'sink', dropped: 1, failed: 0, deadLettered: 0 },
    ]);
    expect(String(report)).toContain('dropped 5 on camera -> detect');
    expect(detect.meanProctimeMs).toBe(20);
    expect(report.nodes.map((entry) => entry.name)).toEqual(['camera', 'detect', 'idle', 'sink']);
    expect(report.nodes.map((entry) => entry.kind)).toEqual(['producer', 'processor', 'processor', 'consumer']);
  });

  it('possibleFps = tasks × 1000 / meanProctimeMs; actualFps = processed over the longest active time', () => {
    const report = buildReport({ status: 'completed', durationMs: 600, nodes, outcomes });
    expect(row(report, 'camera').possibleFps).toBeCloseTo(1000);
    expect(row(report, 'detect').possibleFps).toBeCloseTo(100);
    expect(row(report, 'sink').possibleFps).toBeCloseTo(250);
    expect(row(report, 'idle').possibleFps).toBe(0);
    expect(row(report, 'idle').meanProctimeMs).toBe(0);
    expect(row(report, 'detect').actualFps).toBeCloseTo((10 * 1000) / 500);
    expect(row(report, 'camera').actualFps).toBeCloseTo((10 * 1000) / 500);
    expect(row(report, 'idle').actualFps).toBe(0);
  });

  it('the bottleneck is the node with the lowest possibleFps among nodes that processed items', () => {
    const report = buildReport({ status: 'completed', durationMs: 600, nodes, outcomes });
    expect(report.nodes.filter((entry) => entry.bottleneck).map((entry) => entry.name)).toEqual(['detect']);
  });

  it('more tasks move the bottleneck elsewhere', () => {
    const wider = nodes.map((entry) => (entry.name === 'detect' ? { ...entry, nbTasks: 4 } : entry));
    const fourReplicas = [
      ...outcomes,
      outcome('detect', 2, { received: 0, processed: 0 }),
      outcome('detect', 3, { received: 0, processed: 0 }),
    ];
    const report = buildReport({ status: 'completed', durationMs: 600, nodes: wider, outcomes: fourReplicas });
    // detect: 4 × 1000 / 20 = 200 fps, still below sink's 250 fps.
    expect(row(report, 'detect').possibleFps).toBeCloseTo(200);
    expect(report.nodes.filter((entry) => entry.bottleneck).map((entry) => entry.name)).toEqual(['detect']);
    // With 20 replicas it could do 1000 fps: the sink (250 fps) limits the flow now.
    const widest = nodes.map((entry) => (entry.name === 'detect' ? { ...entry, nbTasks: 20 } : entry));
    const moved = buildReport({ status: 'completed', durationMs: 600, nodes: widest, outcomes });
    expect(row(moved, 'detect').possibleFps).toBeCloseTo(1000);
    expect(moved.nodes.filter((entry) => entry.bottleneck).map((entry) => entry.name)).toEqual(['sink']);
  });

  it("labels each task's device with the detail its node reported (what really ran), in the rows and the table", () => {
    const detail = (taskIndex: number, device: TaskOutcome['device'], deviceDetail?: string): TaskOutcome => ({
      ...outcome('detect', taskIndex, { processed: 1, proctimeTotalMs: 1, ...(deviceDetail === undefined ? {} : { deviceDetail }) }),
      device,
    });
    const report = buildReport({
      status: 'completed',
      durationMs: 10,
      nodes: [node('detect', 'processor', 2), node('plain', 'processor', 2)],
      outcomes: [detail(0, 'gpu:0', 'wasm'), detail(1, 'gpu:1', 'wasm'), outcome('plain', 0, {}), outcome('plain', 1, {})],
    });
    expect(row(report, 'detect').device).toEqual(['gpu:0', 'gpu:1']);
    expect(row(report, 'detect').deviceLabel).toEqual(['gpu:0 (wasm)', 'gpu:1 (wasm)']);
    expect(row(report, 'plain').deviceLabel).toEqual(['cpu', 'cpu']);
    expect(String(report)).toMatch(/detect\s+│\s+2\s+│ gpu:0 \(wasm\) gpu:1 \(wasm\)\s+│/);
    expect(String(report)).toMatch(/plain\s+│\s+2\s+│ cpu×2\s+│/);
  });

  it('a node with no outcome has empty stats', () => {
    const report = buildReport({ status: 'stopped', durationMs: 1, nodes: [node('ghost', 'processor', 3)], outcomes: [] });
    expect(row(report, 'ghost')).toMatchObject({ tasks: 3, device: [], received: 0, possibleFps: 0, actualFps: 0, bottleneck: false });
  });

  it('prints as a table naming every node, the status and the bottleneck', () => {
    const report = buildReport({ status: 'completed', durationMs: 1234, nodes, outcomes });
    const text = String(report);
    expect(text).toBe(report.format());
    expect(text).toBe(formatReport(report));
    for (const name of ['camera', 'detect', 'idle', 'sink']) expect(text).toContain(name);
    expect(text).toContain('completed');
    expect(text).toContain('1.23 s');
    expect(text).toContain('cpu×2');
    const detectLine = text.split('\n').find((line) => line.includes('detect'));
    expect(detectLine).toContain('bottleneck');
    expect(text.split('\n').filter((line) => line.includes('bottleneck'))).toHaveLength(1);
    // format/toString do not leak into JSON.
    expect(Object.keys(JSON.parse(JSON.stringify(report)))).toEqual(['status', 'durationMs', 'nodes', 'edges', 'lostTasks']);
  });

  it('lists the tasks lost under restartOnFailure, with their last counters in the table', () => {
    const lost: TaskOutcome = {
      ...outcome('detect', 1, { received: 2, emitted: 2, processed: 2, proctimeTotalMs: 40, activeMs: 100 }),
      status: 'lost',
      error: { name: 'TaskExitedError', message: 'exited on signal SIGKILL before finishing' },
    };
    const others = outcomes.filter((entry) => !(entry.nodeName === 'detect' && entry.taskIndex === 1));
    const report = buildReport({ status: 'completed', durationMs: 10, nodes, outcomes: [...others, lost] });
    expect(report.lostTasks).toEqual([{ node: 'detect', taskIndex: 1, cause: 'exited on signal SIGKILL before finishing' }]);
    expect(row(report, 'detect').received).toBe(7);
    expect(String(report)).toContain('lost detect[1] (exited on signal SIGKILL before finishing)');
    expect(buildReport({ status: 'completed', durationMs: 10, nodes, outcomes }).lostTasks).toEqual([]);
  });

  it('a failed report prints the error', () => {
    const error = new TaskFailedError('detect', 1, new Error('out of memory'));
    const report = buildReport({ status: 'failed', error, durationMs: 10, nodes, outcomes });
    expect(report.error).toBe(error);
    const text = String(report);
    expect(text).toContain('failed');
    expect(text).toContain('out of memory');
  });
});

class Slow extends ProcessorNode<[number], number> {
  async process(value: number) {
    await new Promise((resolve) => setTimeout(resolve, 3));
    return value;
  }
}

class MetadataSink extends ConsumerNode<MessageMetadata[]> {
  readonly received: MessageMetadata[][] = [];

  consume(...metas: MessageMetadata[]) {
    this.received.push(metas);
  }
}

/** Says in `open()` which backend it runs on, as a TensorFlow.js node would. */
class BackendReporter extends ProcessorNode<[number], number> {
  override open(): void {
    this.deviceDetail = 'test backend';
  }

  process(value: number): number {
    return value;
  }
}

describe('report of a real run', () => {
  it("a node's deviceDetail, set in open(), labels its device in the report and the live stats", async () => {
    const numbers = new IntProducer(0, 4, { name: 'numbers' });
    const backend = new BackendReporter({ name: 'backend' }).from(numbers);
    const sink = new MetadataSink({ name: 'sink' }).from(backend);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine());
    const report = await flow.join();
    expect(row(report, 'backend').deviceLabel).toEqual(['cpu (test backend)']);
    expect(row(report, 'numbers').deviceLabel).toEqual(['cpu']);
    expect(String(report)).toContain('cpu (test backend)');
    expect(flow.liveStats()?.nodes.find((entry) => entry.name === 'backend')?.deviceLabel).toEqual(['cpu (test backend)']);
  });

  it('a metadata consumer receives one metadata object per parent, aligned by seq', async () => {
    const numbers = new IntProducer(0, 4, { name: 'numbers' });
    const slow = new Slow({ name: 'slow' }).from(numbers);
    const sink = new MetadataSink({ name: 'meta', metadata: true }).from(slow, numbers);
    expect(sink.wantsMetadata).toBe(true);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine());
    const report = await flow.join();

    expect(report.status).toBe('completed');
    expect(sink.received).toHaveLength(5);
    for (const [index, metas] of sink.received.entries()) {
      expect(metas).toHaveLength(2);
      const [fromSlow, fromNumbers] = metas;
      expect(fromSlow?.node).toBe('slow');
      expect(fromNumbers?.node).toBe('numbers');
      expect(fromSlow?.seq).toBe(index);
      expect(fromNumbers?.seq).toBe(index);
      for (const meta of metas) {
        expect(typeof meta.proctimeMs).toBe('number');
        expect(meta.proctimeMs).toBeGreaterThanOrEqual(0);
        expect(typeof meta.actualProctimeMs).toBe('number');
        expect(meta.actualProctimeMs).toBeGreaterThanOrEqual(0);
        expect(meta.taskIndex).toBe(0);
      }
      // The slow node's own time is measured: it waited about 3 ms per item.
      expect(fromSlow?.proctimeMs).toBeGreaterThanOrEqual(2);
      expect(fromSlow?.actualProctimeMs).toBeGreaterThanOrEqual(fromSlow?.proctimeMs ?? 0);
    }

    const text = String(report);
    for (const name of ['numbers', 'slow', 'meta']) expect(text).toContain(name);
    expect(text).toContain('completed');
    expect(row(report, 'slow').received).toBe(5);
    expect(row(report, 'slow').meanProctimeMs).toBeGreaterThanOrEqual(2);
    expect(row(report, 'meta').received).toBe(5);
    expect(row(report, 'numbers').emitted).toBe(5);
    expect(report.nodes.filter((entry) => entry.bottleneck).map((entry) => entry.name)).toEqual(['slow']);
  });
});

describe('buildReport: onError counts', () => {
  const nodes = [node('reader', 'producer'), node('decode', 'processor', 2), node('sink', 'consumer')];

  it('sums failed, dead-lettered and retried over replicas, per node and per edge, and names them in the table', () => {
    const report = buildReport({
      status: 'completed',
      durationMs: 1000,
      nodes,
      outcomes: [
        outcome('reader', 0, { emitted: 10, processed: 10 }),
        outcome('decode', 0, { received: 5, emitted: 3, processed: 3, failed: 2, deadLettered: 2, retried: 4 }),
        outcome('decode', 1, { received: 5, emitted: 4, processed: 4, failed: 1, deadLettered: 0, retried: 2 }),
        outcome('sink', 0, {
          received: 7,
          processed: 7,
          failures: [{ from: 'decode', to: 'sink', failed: 3, deadLettered: 2 }],
        }),
      ],
    });
    expect(row(report, 'decode')).toMatchObject({ failed: 3, deadLettered: 2, retried: 6 });
    expect(row(report, 'sink')).toMatchObject({ failed: 0, deadLettered: 0, dropped: 0 });
    expect(report.edges).toEqual([{ from: 'decode', to: 'sink', dropped: 0, failed: 3, deadLettered: 2 }]);
    const text = String(report);
    expect(text).toMatch(/│ dropped │ failed │ dead-lettered │/);
    expect(text).toMatch(/│ decode +│ +2 │[^\n]*│ +3 │ +2 │/);
    expect(text).toContain('absent 3 on decode -> sink: given up upstream (2 dead-lettered)');
    expect(text).toContain('decode retried 6 times');
  });

  it('without failures the table keeps its columns', () => {
    const report = buildReport({ status: 'completed', durationMs: 1, nodes, outcomes: [outcome('decode', 0, { received: 1 })] });
    expect(String(report)).not.toContain('failed');
    expect(row(report, 'decode')).toMatchObject({ failed: 0, deadLettered: 0, retried: 0 });
  });
});
