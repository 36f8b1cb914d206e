import { createRequire } from 'node:module';
import type TableType from 'cli-table3';
import type { Device } from '../contracts/deviceAllocator.js';
import type { JoinGroupCounts, TaskOutcome } from '../contracts/engine.js';
import type { TaskFailedError } from '../errors.js';

/** One row of the bottleneck table: a node's tasks, counts and speeds. */
export interface NodeReport {
  readonly name: string;
  readonly kind: 'producer' | 'processor' | 'consumer';
  readonly tasks: number;
  /** Device of each task, by task index. */
  readonly device: readonly Device[];
  /**
   * What each task really ran on, by task index: its device, followed by the detail its node
   * reported (`Node.deviceDetail`, e.g. the TensorFlow.js backend) in parentheses, `gpu:0 (wasm)`;
   * the device alone when the node reported none. The table prints these.
   */
  readonly deviceLabel: readonly string[];
  /** Aligned input sets handled. */
  readonly received: number;
  /** Messages published. */
  readonly emitted: number;
  /** Messages meant for this node that were discarded (stale, or impossible to align), all its inputs together. */
  readonly dropped: number;
  /**
   * Messages its tasks refused, unread, from peers that did not prove they belong to the run (a
   * foreign socket on the data path; see `TaskStats.rejected`). 0 when no stranger tried.
   */
  readonly rejected: number;
  /** Items it gave up on after its `onError` retries: skipped or dead-lettered; the flow went on without them. */
  readonly failed: number;
  /** Of `failed`, those stored as dead letters (read them back with `readDeadLetters`). */
  readonly deadLettered: number;
  /** Retries it ran (calls to `process()` / `consume()` after a failure). */
  readonly retried: number;
  /** Mean processing time per item, in ms. */
  readonly meanProctimeMs: number;
  /** Items per second the node could sustain with all its tasks busy (`tasks × 1000 / meanProctimeMs`). */
  readonly possibleFps: number;
  /** Items per second it actually handled over its active time. */
  readonly actualFps: number;
  /** True for the node that limits the flow's throughput (lowest possible fps). */
  readonly bottleneck: boolean;
  /** Nodes with a time join only: groups released complete, released partial, and dropped. */
  readonly joins?: JoinGroupCounts;
}

/** Messages discarded on one edge of the graph (realtime engines drop stale data; joins discard what cannot align). */
export interface EdgeReport {
  readonly from: string;
  readonly to: string;
  readonly dropped: number;
  /** Origins absent on this edge because a node upstream gave up on them (`onError`); 0 when none. */
  readonly failed: number;
  /** Of `failed`, the ones stored as dead letters. */
  readonly deadLettered: number;
}

/** A task whose process died while the flow recovered without it (`restartOnFailure`). */
export interface LostTaskReport {
  readonly node: string;
  readonly taskIndex: number;
  /** How the process ended, e.g. `exited on signal SIGKILL`. */
  readonly cause: string;
}

/** What `flow.join()` resolves with. `String(report)` prints the bottleneck table. */
export interface FlowReport {
  readonly status: 'completed' | 'stopped' | 'failed';
  readonly error?: TaskFailedError;
  readonly durationMs: number;
  readonly nodes: readonly NodeReport[];
  /** Edges on which messages were dropped, with their counts (empty when nothing was dropped). */
  readonly edges: readonly EdgeReport[];
  /**
   * Tasks lost during the run whose work the engine gave to surviving replicas (`restartOnFailure`):
   * the flow still completed, with nothing lost or duplicated. Empty when no task died.
   */
  readonly lostTasks: readonly LostTaskReport[];
  /** The report as a printable table (also what `toString()` returns). */
  format(): string;
}

/** Input of {@link buildReport}: the plan's nodes and the engine's task outcomes. */
export interface ReportInput {
  readonly status: FlowReport['status'];
  readonly error?: TaskFailedError;
  readonly durationMs: number;
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly kind: NodeReport['kind']; readonly nbTasks: number }>;
  readonly outcomes: readonly TaskOutcome[];
}

/** Aggregates per-task outcomes into the per-node table. */
export function buildReport(input: ReportInput): FlowReport {
  const edges = edgeDrops(input.outcomes);
  const rows = input.nodes.map((node) => {
    const outcomes = input.outcomes.filter((outcome) => outcome.nodeName === node.name).sort((a, b) => a.taskIndex - b.taskIndex);
    const sum = (pick: (outcome: TaskOutcome) => number) => outcomes.reduce((total, outcome) => total + pick(outcome), 0);
    const processed = sum((outcome) => outcome.stats.processed);
    const meanProctimeMs = processed > 0 ? sum((outcome) => outcome.stats.proctimeTotalMs) / processed : 0;
    const activeMs = Math.max(0, ...outcomes.map((outcome) => outcome.stats.activeMs));
    return {
      name: node.name,
      kind: node.kind,
      tasks: node.nbTasks,
      device: outcomes.map((outcome) => outcome.device),
      deviceLabel: outcomes.map((outcome) =>
        outcome.stats.deviceDetail === undefined ? outcome.device : `${outcome.device} (${outcome.stats.deviceDetail})`,
      ),
      received: sum((outcome) => outcome.stats.received),
      emitted: sum((outcome) => outcome.stats.emitted),
      dropped: edges.filter((edge) => edge.to === node.name).reduce((total, edge) => total + edge.dropped, 0),
      rejected: sum((outcome) => outcome.stats.rejected ?? 0),
      failed: sum((outcome) => outcome.stats.failed ?? 0),
      deadLettered: sum((outcome) => outcome.stats.deadLettered ?? 0),
      retried: sum((outcome) => outcome.stats.retried ?? 0),
      meanProctimeMs,
      possibleFps: processed > 0 ? (node.nbTasks * 1000) / Math.max(meanProctimeMs, 1e-6) : 0,
      actualFps: activeMs > 0 ? (processed * 1000) / activeMs : 0,
      processed,
      ...joinCounts(outcomes),
    };
  });
  const measured = rows.filter((row) => row.processed > 0);
  const slowest = measured.length > 1 ? Math.min(...measured.map((row) => row.possibleFps)) : undefined;
  const nodes: NodeReport[] = rows.map(({ processed, ...row }) => ({
    ...row,
    bottleneck: slowest !== undefined && processed > 0 && row.possibleFps === slowest,
  }));
  const lostTasks = input.outcomes
    .filter((outcome) => outcome.status === 'lost')
    .map((outcome) => ({ node: outcome.nodeName, taskIndex: outcome.taskIndex, cause: outcome.error?.message ?? 'its process died' }));
  const report: FlowReport = {
    status: input.status,
    ...(input.error === undefined ? {} : { error: input.error }),
    durationMs: input.durationMs,
    nodes,
    edges,
    lostTasks,
    format: () => formatReport(report),
  };
  Object.defineProperty(report, 'toString', { value: () => formatReport(report), enumerable: false });
  Object.defineProperty(report, 'format', { enumerable: false });
  return report;
}

/** A time join's group counts, summed over its tasks; nothing for other nodes. */
function joinCounts(outcomes: readonly TaskOutcome[]): { joins?: JoinGroupCounts } {
  const counted = outcomes.flatMap((outcome) => (outcome.stats.joins === undefined ? [] : [outcome.stats.joins]));
  if (counted.length === 0) return {};
  const sum = (pick: (counts: JoinGroupCounts) => number) => counted.reduce((total, counts) => total + pick(counts), 0);
  return { joins: { complete: sum((c) => c.complete), partial: sum((c) => c.partial), dropped: sum((c) => c.dropped) } };
}

/**
 * Sums the per-task counts by edge: drops (a sender's unsent messages and a receiver's discards add
 * up) and origins absent because a node upstream gave up on them.
 */
function edgeDrops(outcomes: readonly TaskOutcome[]): EdgeReport[] {
  const byEdge = new Map<string, { from: string; to: string; dropped: number; failed: number; deadLettered: number }>();
  const edge = (from: string, to: string) => {
    const key = JSON.stringify([from, to]);
    const found = byEdge.get(key) ?? { from, to, dropped: 0, failed: 0, deadLettered: 0 };
    byEdge.set(key, found);
    return found;
  };
  for (const { stats } of outcomes) {
    for (const { from, to, count } of stats.drops) edge(from, to).dropped += count;
    for (const { from, to, failed, deadLettered } of stats.failures ?? []) {
      const counts = edge(from, to);
      counts.failed += failed;
      counts.deadLettered += deadLettered;
    }
  }
  return [...byEdge.values()].filter((counts) => counts.dropped > 0 || counts.failed > 0);
}

// Loaded when a report is first printed: every task process imports this module, and none prints.
let Table: typeof TableType | undefined;

/** Renders the report as a table, Videoflow's bottleneck table, and the edges that dropped messages. */
export function formatReport(
  report: Pick<FlowReport, 'status' | 'error' | 'durationMs' | 'nodes'> & {
    readonly edges?: readonly EdgeReport[];
    readonly lostTasks?: readonly LostTaskReport[];
  },
): string {
  Table ??= createRequire(import.meta.url)('cli-table3') as typeof TableType;
  // The onError columns appear only when some node gave up on or retried an item.
  const failures = report.nodes.some((node) => (node.failed ?? 0) > 0 || (node.retried ?? 0) > 0);
  const failureHead = failures ? ['failed', 'dead-lettered'] : [];
  const table = new Table({
    head: ['node', 'tasks', 'device', 'received', 'emitted', 'dropped', ...failureHead, 'mean ms', 'possible fps', 'actual fps', ''],
    style: { head: [], border: [], compact: true },
    colAligns: [
      'left',
      'right',
      'left',
      'right',
      'right',
      'right',
      ...failureHead.map(() => 'right' as const),
      'right',
      'right',
      'right',
      'left',
    ],
  });
  for (const node of report.nodes) {
    table.push([
      node.name,
      node.tasks,
      compactDevices(node.deviceLabel ?? node.device),
      node.received,
      node.emitted,
      node.dropped,
      ...(failures ? [node.failed ?? 0, node.deadLettered ?? 0] : []),
      node.meanProctimeMs.toFixed(2),
      formatRate(node.possibleFps),
      formatRate(node.actualFps),
      node.bottleneck ? '<- bottleneck' : '',
    ]);
  }
  const seconds = (report.durationMs / 1000).toFixed(2);
  const headline = `flow ${report.status} in ${seconds} s${report.error === undefined ? '' : `: ${report.error.message}`}`;
  const drops = (report.edges ?? [])
    .filter((edge) => edge.dropped > 0)
    .map((edge) => `dropped ${edge.dropped} on ${edge.from} -> ${edge.to}`);
  const absent = (report.edges ?? [])
    .filter((edge) => (edge.failed ?? 0) > 0)
    .map((edge) => `absent ${edge.failed} on ${edge.from} -> ${edge.to}: given up upstream (${edge.deadLettered ?? 0} dead-lettered)`);
  const retried = report.nodes.filter((node) => (node.retried ?? 0) > 0).map((node) => `${node.name} retried ${node.retried} times`);
  const rejected = report.nodes
    .filter((node) => (node.rejected ?? 0) > 0)
    .map((node) => `${node.name} refused ${node.rejected} messages from peers outside the run`);
  const joins = report.nodes.flatMap((node) =>
    node.joins === undefined
      ? []
      : [
          `${node.name} joined by time: ${node.joins.complete} complete, ${node.joins.partial} partial, ${node.joins.dropped} dropped groups`,
        ],
  );
  const lost = (report.lostTasks ?? []).map(
    (task) => `lost ${task.node}[${task.taskIndex}] (${task.cause}); its unfinished items went to the other replicas`,
  );
  return [headline, table.toString(), ...joins, ...drops, ...absent, ...retried, ...rejected, ...lost].join('\n');
}

function formatRate(rate: number): string {
  if (rate === 0) return '-';
  return rate >= 100 ? Math.round(rate).toString() : rate.toFixed(1);
}

function compactDevices(devices: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const device of devices) counts.set(device, (counts.get(device) ?? 0) + 1);
  return [...counts].map(([device, count]) => (count > 1 ? `${device}×${count}` : device)).join(' ');
}
