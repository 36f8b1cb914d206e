import type { EdgeFailures, ExecutionEngine, JoinGroupCounts, TaskOutcome, TaskProgress, TaskStats } from '../contracts/engine.js';
import type { EdgeDrops, EndReason, Envelope, InputSet, MessageMetadata, RawMessage } from '../contracts/messenger.js';
import { FlowValidationError, taskFailureOf, VfError } from '../errors.js';
import type { ExecutionPlan, TaskSpec } from '../plan/executionPlan.js';
import { resolveInProcessEngineOptions } from '../runtime/engineOptions.js';
import { MessengerBase } from '../runtime/messengerBase.js';
import { warnQueueDeadlock } from '../runtime/queueDeadlock.js';
import { EMPTY_TASK_STATS, runTask } from '../runtime/taskLoop.js';
import {
  createNodeAligner,
  type NodeAligner,
  type NodeAlignerOptions,
  type SkippedCounts,
  skippedEdges,
  timeJoinAlignerOptions,
} from '../runtime/timeAligner.js';
import { AbortedError, deferred, Mutex, Notifier } from '../runtime/waiting.js';
import { decodeValue, encodeValue } from '../wire/codec.js';
import { type RoomWait, WaitBoard } from './waitBoard.js';

/** Options of {@link InProcessEngine}. */
export interface InProcessEngineOptions {
  /**
   * Capacity of each edge's queue, in messages per task of the sending node (as on the batch
   * engine). A full queue blocks its publisher. Default 8.
   */
  readonly queueSize?: number;
  /**
   * How long after `stop()` the flow may take to drain, in ms (as on the batch engine). Past it,
   * every task still waiting (a publisher blocked on a full queue, a receiver waiting for input)
   * is aborted, so that `join()` resolves even when the flow cannot drain. Node code that never
   * returns cannot be interrupted in-process. Default 30 000.
   */
  readonly stopTimeoutMs?: number;
}

/**
 * Runs every task in the calling process, as concurrent async loops, with the batch contract:
 * bounded queues, a full queue blocks the publisher, nothing is dropped, order is kept (also
 * after replicated processors). The reference for semantics, tests, debugging and tiny flows;
 * replicas of a node share its one node object here (multi-process engines rebuild it per task).
 * Values follow the same model as between processes: checked at the sender, copied per receiver.
 *
 * @example
 * ```ts
 * await flow.run(new InProcessEngine({ queueSize: 4 }));
 * const report = await flow.join();
 * ```
 */
export class InProcessEngine implements ExecutionEngine {
  readonly #queueSize: number;
  readonly #stopTimeoutMs: number;
  #run: InProcessRun | undefined;

  constructor(options: InProcessEngineOptions = {}) {
    ({ queueSize: this.#queueSize, stopTimeoutMs: this.#stopTimeoutMs } = resolveInProcessEngineOptions(options));
  }

  async allocateAndRunTasks(plan: ExecutionPlan): Promise<void> {
    if (this.#run !== undefined) {
      throw new FlowValidationError(
        'INVALID_STATE',
        'this InProcessEngine has already been given a flow: one engine object runs one flow, create a new one for each run',
      );
    }
    this.#run = new InProcessRun(plan, this.#queueSize, this.#stopTimeoutMs);
    await this.#run.started;
    if (this.#run.failedToStart) {
      // A node's open() threw: the others were released from the ready gate and have closed.
      const outcomes = await this.#run.finished;
      throw taskFailureOf(outcomes) ?? new VfError('START_FAILED', 'InProcessEngine: the flow failed before it started');
    }
  }

  signalFlowTermination(): void {
    this.#run?.stop();
  }

  async joinTaskProcesses(): Promise<readonly TaskOutcome[]> {
    if (this.#run === undefined) return [];
    return this.#run.finished;
  }

  taskProgress(): readonly TaskProgress[] {
    return this.#run?.progress() ?? [];
  }
}

/**
 * The inputs of one node, shared by its replicas: a bounded queue per parent plus alignment. As on
 * the batch engine (credits), each task of a parent has `queueSize` messages of room, held until
 * the aligner releases them, so a parent's queue holds `queueSize` × its tasks. Room per edge
 * instead let one replica of a parent fill the queue while the output before them was still on its
 * way from another: a time join then took that parent for stalled (its edge full) and closed its
 * groups without it, differently on every run.
 */
class NodeInbox {
  readonly #aligner: NodeAligner;
  readonly #queueSize: number;
  /** Per parent, per task of it: messages received and not yet released by the aligner. */
  readonly #held: number[][];
  readonly #changed = new Notifier();
  readonly #receiving = new Mutex();
  readonly #signal: AbortSignal;
  readonly #board: WaitBoard;
  /** Per parent: `parent -> node`, for the warning when room is lent (see {@link WaitBoard}). */
  readonly #edges: readonly string[];
  /** Set when the flow can never move again ({@link WaitBoard}): every wait here throws it. */
  #stuck: VfError | undefined;
  /** Tasks of the node given the `draining` end (see {@link next}). */
  readonly #draining = new Set<number>();
  /** A message that could not be decoded for this node, thrown by its next take (see `refuse`). */
  #undecodable: { readonly error: unknown } | undefined;

  constructor(
    parentReplicas: readonly number[],
    queueSize: number,
    signal: AbortSignal,
    timeJoin: Pick<NodeAlignerOptions, 'join' | 'capacity' | 'converging'>,
    board: WaitBoard,
    edges: readonly string[],
  ) {
    this.#queueSize = queueSize;
    this.#board = board;
    this.#edges = edges;
    this.#held = parentReplicas.map((replicas) => new Array<number>(replicas).fill(0));
    const onRelease = (parentIndex: number, envelope: Envelope) => {
      if (envelope.kind !== 'data') return;
      const held = this.#held[parentIndex] as number[];
      held[envelope.meta.taskIndex] = (held[envelope.meta.taskIndex] ?? 0) - 1;
    };
    // A time join here closes groups on event time only, as on the batch engine (no wall clock).
    this.#aligner = createNodeAligner(parentReplicas, { onRelease, ...timeJoin });
    this.#signal = signal;
  }

  get droppedByParent(): readonly number[] {
    return this.#aligner.droppedByParent;
  }

  get skippedByParent(): readonly SkippedCounts[] {
    return this.#aligner.skippedByParent ?? [];
  }

  joinGroups(): JoinGroupCounts | undefined {
    return this.#aligner.joinGroups?.();
  }

  async push(parentIndex: number, envelope: Envelope): Promise<void> {
    if (!this.#hasRoom(parentIndex, envelope)) await this.#untilRoom(parentIndex, envelope);
    if (this.#signal.aborted) throw new AbortedError();
    if (envelope.kind === 'data') {
      const held = this.#held[parentIndex] as number[];
      held[envelope.meta.taskIndex] = (held[envelope.meta.taskIndex] ?? 0) + 1;
    }
    this.#aligner.push(parentIndex, envelope);
    this.#changed.notify();
  }

  /** Waits until the parent has room for `envelope`, or until the {@link WaitBoard} lends it room. */
  async #untilRoom(parentIndex: number, envelope: Envelope): Promise<void> {
    let lent = false;
    const wait: RoomWait = {
      edge: this.#edges[parentIndex] ?? String(parentIndex),
      lend: () => {
        lent = true;
        this.#changed.notify();
      },
    };
    this.#board.waitForRoom(wait);
    try {
      while (!lent && !this.#hasRoom(parentIndex, envelope)) await this.#changed.wait(this.#signal);
    } finally {
      this.#board.stopWaiting(wait);
    }
  }

  /** The flow can never move again: every wait on this inbox throws `error` (see {@link WaitBoard}). */
  fail(error: VfError): void {
    this.#stuck ??= error;
    this.#changed.notify();
  }

  /**
   * A message for this node whose value cannot be decoded (a registered type's `decode` threw):
   * as between processes, where the receiver decodes, it fails this node (the next take of one of
   * its tasks throws), not the sender, which goes on.
   */
  refuse(error: unknown): void {
    this.#undecodable ??= { error };
    this.#changed.notify();
  }

  #hasRoom(parentIndex: number, envelope: Envelope): boolean {
    if (envelope.kind === 'end') return true;
    if ((this.#held[parentIndex]?.[envelope.meta.taskIndex] ?? 0) < this.#queueSize) return true;
    // The next message in the parent's order always gets in: the others wait for it.
    return this.#aligner.canAccept(parentIndex, envelope, 0);
  }

  /** The next input set of the node's task `taskIndex` (its replicas share this inbox). */
  next(taskIndex: number): Promise<InputSet> {
    // Waiting from here (the node's replicas take their turns) until it returns, as the board sees it.
    this.#board.waitForInput();
    const taken = this.#draining.has(taskIndex)
      ? this.#untilFinalEnd(taskIndex)
      : this.#receiving.run(() =>
          this.#until(() => {
            const input = this.#aligner.take(taskIndex);
            if (input?.kind === 'end' && input.draining === true) this.#draining.add(taskIndex);
            return input;
          }),
        );
    return taken.finally(this.#stopWaiting);
  }

  readonly #stopWaiting = (): void => this.#board.stopWaiting();

  /**
   * A task given the `draining` end waits for the final one outside the receiving lock, which the
   * node's other replicas need for their own `draining` end. An origin join's aligner now discards
   * what arrives as it arrives; a time join's drops its groups as they close.
   */
  async #untilFinalEnd(taskIndex: number): Promise<InputSet> {
    for (;;) {
      if (this.#signal.aborted) throw new AbortedError();
      if (this.#stuck !== undefined) throw this.#stuck;
      const held = this.#heldCount();
      const input = this.#aligner.take(taskIndex);
      // A time join still closes (and drops) groups here: wake the publishers whose room that freed.
      // Only then: replicas waiting here side by side would otherwise wake each other for ever.
      if (this.#heldCount() !== held) this.#changed.notify();
      if (input !== undefined) return input;
      await this.#changed.wait(this.#signal);
    }
  }

  #heldCount(): number {
    let count = 0;
    for (const tasks of this.#held) for (const held of tasks) count += held;
    return count;
  }

  nextRaw(): Promise<RawMessage> {
    this.#board.waitForInput();
    return this.#receiving.run(() => this.#until(() => this.#aligner.takeRaw())).finally(this.#stopWaiting);
  }

  async #until<T>(attempt: () => T | undefined): Promise<T> {
    for (;;) {
      if (this.#signal.aborted) throw new AbortedError();
      if (this.#stuck !== undefined) throw this.#stuck;
      if (this.#undecodable !== undefined) throw this.#undecodable.error;
      const result = attempt();
      // Taking (or discarding) frees room: wake blocked publishers either way.
      this.#changed.notify();
      if (result !== undefined) return result;
      await this.#changed.wait(this.#signal);
    }
  }
}

class InProcessMessenger extends MessengerBase {
  constructor(
    private readonly spec: TaskSpec,
    private readonly inbox: NodeInbox | undefined,
    private readonly outputs: ReadonlyArray<{ readonly inbox: NodeInbox; readonly parentIndex: number }>,
    private readonly run: InProcessRun,
    private readonly parentNames: readonly string[],
  ) {
    super(spec);
  }

  async publishMessage(value: unknown, meta?: MessageMetadata): Promise<void> {
    // The same value model as across processes: checked and encoded here, in the sender, and each
    // child gets its own copy, so a flow behaves alike on every engine (which, like this, send
    // nothing, hence check nothing, for a node without children).
    if (this.outputs.length === 0) return;
    const frames = encodeValue(value, this.spec.nodeName);
    const metadata = this.metadataFor(meta);
    for (const output of this.outputs) {
      // Decoded for the receiver, which a failing decode fails (it decodes on other engines).
      let value: unknown;
      try {
        value = decodeValue(copyRawFrames(frames));
      } catch (error) {
        output.inbox.refuse(error);
        continue;
      }
      await output.inbox.push(output.parentIndex, { kind: 'data', value, meta: metadata });
    }
  }

  async publishTerminationMessage(reason: EndReason = 'completed'): Promise<void> {
    for (const output of this.outputs) await output.inbox.push(output.parentIndex, { kind: 'end', reason });
  }

  protected nextInput(): Promise<InputSet> {
    if (this.inbox === undefined) return Promise.resolve({ kind: 'end', reason: this.checkForTermination() ? 'stopped' : 'completed' });
    return this.inbox.next(this.spec.taskIndex);
  }

  async receiveRawMessage(): Promise<RawMessage> {
    if (this.inbox === undefined) return { parentIndex: 0, envelope: { kind: 'end', reason: 'completed' } };
    return this.inbox.nextRaw();
  }

  checkForTermination(): boolean {
    return this.run.stopRequested;
  }

  joinGroups(): JoinGroupCounts | undefined {
    // Replicas share one inbox (a time join has only one task anyway): report once, on replica 0.
    return this.spec.taskIndex === 0 ? this.inbox?.joinGroups() : undefined;
  }

  drops(): readonly EdgeDrops[] {
    // Replicas share one inbox: report its drops once, on replica 0.
    if (this.spec.taskIndex !== 0 || this.inbox === undefined) return [];
    return this.inbox.droppedByParent
      .map((count, parentIndex) => ({ from: this.parentNames[parentIndex] ?? String(parentIndex), to: this.spec.nodeName, count }))
      .filter((edge) => edge.count > 0);
  }

  skipped(): readonly EdgeFailures[] {
    // Replicas share one inbox: report once, on replica 0.
    if (this.spec.taskIndex !== 0 || this.inbox === undefined) return [];
    return skippedEdges(
      this.inbox.skippedByParent,
      this.spec.nodeName,
      (parentIndex) => this.parentNames[parentIndex] ?? String(parentIndex),
    );
  }
}

/**
 * The header as is (decoding copies out of it), the raw frames copied: they are views of the
 * sender's memory, which a receiver must not share. Each copy owns its ArrayBuffer whole.
 */
function copyRawFrames(frames: readonly Buffer[]): Buffer[] {
  return frames.map((frame, index) => {
    if (index === 0) return frame;
    const copy = Buffer.allocUnsafeSlow(frame.length);
    frame.copy(copy);
    return copy;
  });
}

/** One execution of a plan in this process. */
class InProcessRun {
  readonly started: Promise<void>;
  readonly finished: Promise<readonly TaskOutcome[]>;
  stopRequested = false;
  /** A task failed before every task had opened (the ready handshake). */
  failedToStart = false;
  readonly #stop = new AbortController();
  readonly #failure = new AbortController();
  readonly #tasks: readonly TaskSpec[];
  /** Latest counters of each task, by task id (live monitoring). */
  readonly #stats = new Map<number, TaskStats>();
  readonly #stopTimeoutMs: number;
  #stopTimer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(plan: ExecutionPlan, queueSize: number, stopTimeoutMs: number) {
    this.#stopTimeoutMs = stopTimeoutMs;
    this.#tasks = plan.tasks;
    const board = new WaitBoard(
      plan.tasks.length,
      (wait) => warnQueueDeadlock(wait.edge),
      (error) => {
        for (const inbox of inboxes) inbox?.fail(error);
      },
    );
    const inboxes = plan.nodes.map((node) =>
      node.parents.length === 0
        ? undefined
        : new NodeInbox(
            node.parents.map((parent) => plan.nodes[parent]?.nbTasks ?? 1),
            queueSize,
            this.#failure.signal,
            timeJoinAlignerOptions(plan.nodes, node.index, queueSize),
            board,
            node.parents.map((parent) => `${plan.nodes[parent]?.name ?? String(parent)} -> ${node.name}`),
          ),
    );
    const taskSignal = AbortSignal.any([this.#stop.signal, this.#failure.signal]);
    let readyCount = 0;
    const started = deferred();
    this.started = started.promise;
    // Tasks wait here until every task has opened; rejected (aborted) if one fails first.
    const gate = deferred();
    const onReady = () => {
      readyCount += 1;
      if (readyCount === plan.tasks.length) {
        gate.resolve();
        started.resolve();
      }
    };

    const running = plan.tasks.map(async (spec) => {
      const node = plan.graph.nodes[spec.nodeIndex];
      const planned = plan.nodes[spec.nodeIndex];
      if (node === undefined || planned === undefined) throw new RangeError(`task ${spec.id} names no node`);
      const outputs = planned.children.map((child) => ({
        inbox: inboxes[child] as NodeInbox,
        parentIndex: plan.nodes[child]?.parents.indexOf(spec.nodeIndex) ?? 0,
      }));
      const parentNames = planned.parents.map((parent) => plan.nodes[parent]?.name ?? String(parent));
      const messenger = new InProcessMessenger(spec, inboxes[spec.nodeIndex], outputs, this, parentNames);
      const onStats = (stats: TaskStats) => this.#stats.set(spec.id, stats);
      const outcome = await runTask({ node, spec, messenger, signal: taskSignal, onReady, start: gate.promise, onStats });
      board.taskEnded();
      onStats(outcome.stats);
      if (outcome.status === 'failed') {
        // Fail fast: wake every blocked task so that each one closes and exits.
        this.stopRequested = true;
        if (readyCount < plan.tasks.length) this.failedToStart = true;
        gate.reject(new AbortedError());
        this.#failure.abort();
        started.resolve();
      }
      return outcome;
    });
    this.finished = Promise.all(running).finally(() => {
      this.#done = true;
      clearTimeout(this.#stopTimer);
    });
    if (plan.tasks.length === 0) started.resolve();
  }

  stop(): void {
    this.stopRequested = true;
    this.#stop.abort();
    // A flow that cannot drain (a publisher blocked on a queue that nobody will empty) would never
    // end: past the timeout, every wait is aborted (the tasks end 'aborted', the flow 'stopped'),
    // as the batch engine aborts its tasks after its stopTimeoutMs. The timer keeps the process
    // alive meanwhile: without it, the event loop ran dry and Node exited (code 13) with join() pending.
    if (!this.#done) this.#stopTimer ??= setTimeout(() => this.#failure.abort(), this.#stopTimeoutMs);
  }

  progress(): readonly TaskProgress[] {
    return this.#tasks.map((spec) => ({
      taskId: spec.id,
      nodeName: spec.nodeName,
      taskIndex: spec.taskIndex,
      device: spec.device,
      stats: this.#stats.get(spec.id) ?? EMPTY_TASK_STATS,
    }));
  }
}
