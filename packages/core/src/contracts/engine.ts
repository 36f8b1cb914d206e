import type { SerializedError } from '../errors.js';
import type { ExecutionPlan } from '../plan/executionPlan.js';
import type { Device } from './deviceAllocator.js';
import type { EdgeDrops } from './messenger.js';

/**
 * How one task ended. `lost`: the task's process died, and the engine recovered without it (a
 * replica whose unfinished items went to the surviving replicas, `restartOnFailure`); the flow goes on.
 */
export type TaskStatus = 'completed' | 'stopped' | 'failed' | 'aborted' | 'lost';

/** Counters and timings one task measured about itself. */
export interface TaskStats {
  /** Aligned input sets the node handled (producers: 0). */
  readonly received: number;
  /** Messages published (consumers: 0). */
  readonly emitted: number;
  /** Messages this task discarded (stale, or impossible to align), all edges together. */
  readonly dropped: number;
  /** The same, per edge of the graph. */
  readonly drops: readonly EdgeDrops[];
  /** Items processed (produced, processed or consumed). */
  readonly processed: number;
  /** Sum of per-item processing time, in ms. */
  readonly proctimeTotalMs: number;
  /** Wall time of the task loop (after `open()`, before `close()`), in ms. */
  readonly activeMs: number;
  /**
   * Messages this task refused, unread, from peers that did not prove they belong to the run (a
   * foreign socket on its data path). Absent (0) for engines without such a path.
   */
  readonly rejected?: number;
  /** Items the node gave up on after its `onError` retries (skipped or dead-lettered). Absent: 0. */
  readonly failed?: number;
  /** Of {@link failed}, those stored as dead letters. Absent: 0. */
  readonly deadLettered?: number;
  /** Retries run (calls after a failure). Absent: 0. */
  readonly retried?: number;
  /** Per edge into the node: origins absent because a node upstream gave up on them. Absent: none. */
  readonly failures?: readonly EdgeFailures[];
  /** Time joins (`join: { mode: 'time' }`): groups released complete, released partial, and dropped. */
  readonly joins?: JoinGroupCounts;
  /** What the task really runs on beyond its device, as its node reported it (`Node.deviceDetail`), e.g. `wasm`. */
  readonly deviceDetail?: string;
}

/** Origins absent on one edge (`from` → `to`) because a node upstream gave up on them (`onError`). */
export interface EdgeFailures {
  readonly from: string;
  readonly to: string;
  /** Items given up upstream (skipped or dead-lettered). */
  readonly failed: number;
  /** Of those, the ones stored as dead letters. */
  readonly deadLettered: number;
}

/** What a time join did with its groups (see `TimeJoinOptions`). */
export interface JoinGroupCounts {
  /** Released with an item from every parent. */
  readonly complete: number;
  /** Released with at least `quorum` parents, `undefined` for the others. */
  readonly partial: number;
  /** Closed below the quorum, or (realtime) superseded by fresher groups before the node took them. */
  readonly dropped: number;
}

/** What an engine reports for each task once it has exited. */
export interface TaskOutcome {
  readonly taskId: number;
  readonly nodeName: string;
  readonly taskIndex: number;
  readonly device: Device;
  readonly status: TaskStatus;
  readonly stats: TaskStats;
  /** Present when `status` is `'failed'` (the error, serialised with the task's stack) or `'lost'` (why the process ended). */
  readonly error?: SerializedError;
}

/** A running task's counters so far, for live monitoring ({@link ExecutionEngine.taskProgress}). */
export type TaskProgress = Pick<TaskOutcome, 'taskId' | 'nodeName' | 'taskIndex' | 'device' | 'stats'>;

/**
 * The `ExecutionEngine` port (the seed's engine): turns a plan into running tasks.
 * Semantics (termination, ordering, errors) live in core's runtime; an engine chooses where tasks
 * run and how their queues behave.
 */
export interface ExecutionEngine {
  /**
   * Starts every task of the plan; resolves once all are running (after their `open()`). An engine
   * object runs one flow: given a second, it rejects with `INVALID_STATE` before starting anything
   * (and only then: the flow takes that code to mean none of its tasks started).
   */
  allocateAndRunTasks(plan: ExecutionPlan): Promise<void>;
  /** Asks the flow to stop: producers stop, the end of the stream flows down, every `close()` runs. */
  signalFlowTermination(): void;
  /** Resolves when every task has exited, with one outcome per task. Never hangs on a dead task. */
  joinTaskProcesses(): Promise<readonly TaskOutcome[]>;
  /**
   * Optional: the latest counters of every task of the running flow (tasks report them every few
   * hundred ms, and once more when they finish), in task order. What `flow.liveStats()` aggregates;
   * an engine without it gives no live statistics.
   */
  taskProgress?(): readonly TaskProgress[];
}
