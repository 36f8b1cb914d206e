import type { TaskProgress } from '../contracts/engine.js';
import { buildReport, type EdgeReport, type NodeReport, type ReportInput } from './report.js';

/** One node's counters so far in a running flow: the bottleneck-table row, plus its backlog. */
export interface LiveNodeStats extends NodeReport {
  /** Items handled so far (produced, processed or consumed), all tasks together. */
  readonly processed: number;
  /**
   * Messages its parents published to it that it has neither handled nor dropped yet: in flight or
   * waiting in its queue (the largest over its inputs; 0 for producers). Tasks report their counters
   * at slightly different moments, so this is an estimate, never below 0.
   */
  readonly queued: number;
}

/** What `flow.liveStats()` returns: per-node counters of the running flow, as of the tasks' latest reports. */
export interface LiveStats {
  /** Milliseconds since `flow.run()` was called. */
  readonly elapsedMs: number;
  readonly nodes: readonly LiveNodeStats[];
  /** Edges on which messages were dropped so far, with their counts. */
  readonly edges: readonly EdgeReport[];
}

/** Planned-node fields {@link buildLiveStats} reads. */
type LiveNodeInput = ReportInput['nodes'][number] & { readonly parents: readonly number[] };

/** Aggregates the tasks' latest counters per node, like the final report, and estimates each node's backlog. */
export function buildLiveStats(nodes: readonly LiveNodeInput[], progress: readonly TaskProgress[], elapsedMs: number): LiveStats {
  // The report's aggregation reads only the counters and the device, never the status: reuse it as is.
  const report = buildReport({
    status: 'completed',
    durationMs: elapsedMs,
    nodes,
    outcomes: progress.map((task) => ({ ...task, status: 'completed' })),
  });
  const processed = nodes.map((node) =>
    progress.filter((task) => task.nodeName === node.name).reduce((total, task) => total + task.stats.processed, 0),
  );
  const liveNodes = report.nodes.map((row, index) => {
    const node = nodes[index] as LiveNodeInput;
    const backlogs = node.parents.map((parentIndex) => {
      const parent = report.nodes[parentIndex];
      if (parent === undefined) return 0;
      const dropped = report.edges.find((edge) => edge.from === parent.name && edge.to === node.name)?.dropped ?? 0;
      return parent.emitted - dropped - row.received;
    });
    return { ...row, processed: processed[index] ?? 0, queued: Math.max(0, ...backlogs) };
  });
  return { elapsedMs, nodes: liveNodes, edges: report.edges };
}
