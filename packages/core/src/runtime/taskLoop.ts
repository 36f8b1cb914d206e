import type { TaskOutcome, TaskStats, TaskStatus } from '../contracts/engine.js';
import type { EndReason, InputSet, MessageMetadata, Messenger } from '../contracts/messenger.js';
import { describeReceived, serializeError, VfError } from '../errors.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { DEVICE_DETAIL_MAX_LENGTH, type Node } from '../nodes/node.js';
import { ProcessorNode } from '../nodes/processorNode.js';
import { ProducerNode } from '../nodes/producerNode.js';
import { type MemberAttempt, TaskModuleNode } from '../nodes/taskModuleNode.js';
import { isTimestamped } from '../nodes/timestamped.js';
import type { TaskSpec } from '../plan/executionPlan.js';
import { type Clock, systemClock } from './clock.js';
import { ItemFailures } from './itemFailures.js';
import { messageMetadata } from './messengerBase.js';
import type { SkippedItem } from './skippedItem.js';
import { eventLoopWatch, isAborted, isPromiseLike, sleep } from './waiting.js';

/** What {@link runTask} needs to run one task. */
export interface TaskRunOptions {
  readonly node: Node;
  readonly spec: TaskSpec;
  readonly messenger: Messenger;
  /** Aborted when the flow is stopped or fails; handed to producers and pacing waits. */
  readonly signal: AbortSignal;
  /** Called once `open()` has succeeded; the task then waits for `start`. */
  readonly onReady?: () => void;
  /** Resolves when every task is ready (the ready handshake). */
  readonly start?: Promise<void>;
  readonly clock?: Clock;
  /** Called every `statsIntervalMs` while the task loop runs, with the counters so far (live monitoring). */
  readonly onStats?: (stats: TaskStats) => void;
  /** Period of `onStats`, in ms. Default {@link STATS_INTERVAL_MS}. */
  readonly statsIntervalMs?: number;
  /**
   * Runs every call into the node's own code (`open`, `produce`'s steps, `process`, `consume`,
   * `close`): a process engine marks them for its liveness watch, so that a main thread blocked
   * there counts as a busy node, not a stuck task. Default: calls them as they are.
   */
  readonly nodeCode?: NodeCodeRunner;
  /**
   * Called once, when the task's first item is through (published, or consumed): its data path has
   * run once, start-up is over. A task process may tune V8 for the steady state then
   * (`tiering.ts`, opt-in).
   */
  readonly onFirstItem?: () => void;
}

/**
 * See {@link TaskRunOptions.nodeCode}. Returns what `call` returned, or a promise of it: a runner
 * may return a result that is not a promise as it is, so that a synchronous node costs the task
 * loop no promise per item.
 */
export type NodeCodeRunner = <T>(call: () => T | PromiseLike<T>) => T | PromiseLike<T>;

const callDirectly: NodeCodeRunner = (call) => call();

/** Default period of {@link TaskRunOptions.onStats}: often enough for a live view, rare enough to cost nothing. */
export const STATS_INTERVAL_MS = 250;

/** Counters of a task that has reported none yet. */
export const EMPTY_TASK_STATS: TaskStats = Object.freeze({
  received: 0,
  emitted: 0,
  dropped: 0,
  drops: [],
  processed: 0,
  proctimeTotalMs: 0,
  activeMs: 0,
});

/**
 * Runs one task of a node: `open()`, the node's loop over its messenger, then `close()` exactly
 * once whatever happened. Never throws: the outcome says how the task ended. Shared by every engine.
 */
export async function runTask(options: TaskRunOptions): Promise<TaskOutcome> {
  const { node, spec, messenger } = options;
  const clock = options.clock ?? systemClock;
  const meter = new TaskMeter(clock, options.onFirstItem);
  const inNode = options.nodeCode ?? callDirectly;
  if (node instanceof ProcessorNode || node instanceof ConsumerNode) {
    meter.failures = new ItemFailures(spec.nodeName, spec.taskIndex, node.errorPolicy, options.signal, messenger.dropsFailedItems === true);
  }
  if (node instanceof TaskModuleNode && node.guardedMembers.length > 0) {
    meter.memberFailures = new Map(
      node.guardedMembers.map((member) => [
        member,
        // Qualified: a member may share its name with a node of the flow, and in-process with its dead-letter files.
        new ItemFailures(
          `${spec.nodeName}/${member.name}`,
          spec.taskIndex,
          member.errorPolicy,
          options.signal,
          messenger.dropsFailedItems === true,
        ),
      ]),
    );
  }
  let status: TaskStatus = 'completed';
  let failure: unknown;
  let ticker: NodeJS.Timeout | undefined;
  try {
    if (node instanceof ProcessorNode && spec.device === 'cpu' && node.deviceType === 'gpu') node.changeDevice('cpu');
    await inNode(() => node.open());
    options.onReady?.();
    await options.start;
    meter.begin();
    const { onStats } = options;
    if (onStats !== undefined) {
      ticker = setInterval(() => onStats(meter.stats(messenger, node.deviceDetail)), options.statsIntervalMs ?? STATS_INTERVAL_MS);
      ticker.unref();
    }
    if (node instanceof ProducerNode) status = await runProducer(node, spec, messenger, options.signal, meter, clock, inNode);
    else if (node instanceof ProcessorNode) status = await runProcessor(node, spec, messenger, meter, clock, inNode);
    else if (node instanceof ConsumerNode) status = await runConsumer(node, messenger, meter, clock, inNode);
    else throw new TypeError(`node "${node.name}" is not a producer, processor or consumer`);
  } catch (error) {
    status = isAborted(error) ? 'aborted' : 'failed';
    failure = error;
  } finally {
    clearInterval(ticker);
    meter.end();
    meter.failures?.close();
    for (const member of meter.memberFailures?.values() ?? []) member.close();
  }
  // close() runs exactly once per task, whatever happened, even when open() threw part-way.
  try {
    await inNode(() => node.close());
  } catch (error) {
    if (status !== 'failed') {
      status = 'failed';
      failure = error;
    }
  }
  const outcome: TaskOutcome = {
    taskId: spec.id,
    nodeName: spec.nodeName,
    taskIndex: spec.taskIndex,
    device: spec.device,
    status,
    stats: meter.stats(messenger, node.deviceDetail),
  };
  return status === 'failed' ? { ...outcome, error: serializeError(failure) } : outcome;
}

async function runProducer(
  node: ProducerNode,
  spec: TaskSpec,
  messenger: Messenger,
  signal: AbortSignal,
  meter: TaskMeter,
  clock: Clock,
  inNode: NodeCodeRunner,
): Promise<TaskStatus> {
  const interval = node.fps === undefined ? 0 : 1000 / node.fps;
  const watch = eventLoopWatch();
  let due = clock.now();
  const source = await inNode(() => node.produce({ signal, taskIndex: spec.taskIndex }));
  const iterator = iteratorOf(source, node.name);
  let stopped = false;
  let exhausted = false;
  try {
    for (let seq = 0; ; seq++) {
      if (interval > 0) {
        await sleep(due - clock.now(), signal);
        // Never burst to catch up: a camera that fell behind simply has fewer frames.
        due = Math.max(due + interval, clock.now());
      }
      // A synchronous iterator, or a publish that never waits (realtime keeps the freshest
      // message without credit), would otherwise never let credits or the stop request in.
      if (watch.starving()) await watch.turn();
      if (messenger.checkForTermination() || signal.aborted) {
        stopped = true;
        break;
      }
      const started = clock.now();
      const called = inNode(() => iterator.next());
      const next = isPromiseLike(called) ? await called : called;
      if (next.done === true) {
        exhausted = true;
        break;
      }
      const item: unknown = next.value;
      const stamped = isTimestamped(item);
      const meta = meter.metadata(
        node.name,
        spec.taskIndex,
        seq,
        seq,
        started,
        clock.now(),
        clock.epochNow(),
        stamped ? item.timestamp : undefined,
      );
      const sending = messenger.publishMessage(stamped ? item.value : item, meta);
      if (sending !== undefined) await sending;
      meter.emitted += 1;
      meter.countProcessed();
    }
  } finally {
    // Let generators run their `finally` blocks when the stream is cut short.
    if (!exhausted) await inNode(() => iterator.return?.());
  }
  await messenger.publishTerminationMessage(stopped ? 'stopped' : 'completed');
  return stopped ? 'stopped' : 'completed';
}

async function runProcessor(
  node: ProcessorNode,
  spec: TaskSpec,
  messenger: Messenger,
  meter: TaskMeter,
  clock: Clock,
  inNode: NodeCodeRunner,
): Promise<TaskStatus> {
  const watch = eventLoopWatch();
  for (;;) {
    // Taken at once when the messenger has an input ready: no promise, no microtask turn. A loop
    // that so never waits still gives the event loop a turn every few ms (credits, timers, the stop
    // request and the liveness ticker run there). Checked after every input, waited for or not:
    // checking only inputs taken at once (to keep the marker off a paced hop's path) made E2 at 8
    // replicas 7.75 -> 7.6x (three alternating pairs, twice).
    const input = messenger.tryReceiveMessage?.() ?? (await messenger.receiveMessage());
    if (watch.starving()) await watch.turn();
    if (input.kind === 'end') {
      await messenger.publishTerminationMessage(input.reason);
      return input.draining === true ? untilFinalEnd(messenger) : input.reason;
    }
    const failures = meter.failures as ItemFailures;
    const skipped = failures.markerIn(input);
    if (skipped !== undefined) {
      await publishMarker(messenger, skipped, spec, input);
      continue;
    }
    meter.received += 1;
    const started = clock.now();
    let output: unknown;
    const members = meter.memberFailures;
    if (members !== undefined) {
      // A task module whose members have policies of their own: each applies inside the module.
      const outcome = await (node as TaskModuleNode).processGuarded(input.values, memberAttempt(members, input, inNode));
      if (!outcome.done) {
        await publishMarker(messenger, outcome.marker as SkippedItem, spec, input);
        continue;
      }
      output = outcome.value;
    } else if (failures.failsFlow) {
      const called = inNode(() => node.process(...input.values));
      output = isPromiseLike(called) ? await called : called;
    } else {
      const attempt = await failures.attempt(() => inNode(() => node.process(...input.values)), input);
      if (!attempt.done) {
        await publishMarker(messenger, attempt.marker, spec, input);
        continue;
      }
      output = attempt.value;
    }
    const sending = messenger.publishMessage(
      output,
      meter.metadata(
        node.name,
        spec.taskIndex,
        input.seq,
        input.ticket,
        started,
        clock.now(),
        earliestCreatedAt(input.metas),
        earliestTimestamp(input.metas),
      ),
    );
    if (sending !== undefined) await sending;
    meter.emitted += 1;
    meter.countProcessed();
  }
}

async function runConsumer(
  node: ConsumerNode,
  messenger: Messenger,
  meter: TaskMeter,
  clock: Clock,
  inNode: NodeCodeRunner,
): Promise<TaskStatus> {
  const watch = eventLoopWatch();
  for (;;) {
    // As in runProcessor: an input ready is taken without a promise.
    const input = messenger.tryReceiveMessage?.() ?? (await messenger.receiveMessage());
    if (watch.starving()) await watch.turn();
    if (input.kind === 'end') {
      if (input.draining === true) continue;
      return input.reason;
    }
    const failures = meter.failures as ItemFailures;
    if (failures.markerIn(input) !== undefined) continue;
    meter.received += 1;
    const started = clock.now();
    const args = node.wantsMetadata ? input.metas : input.values;
    let done = true;
    // Closures written inline, never bound to a name: the task program keeps names (esbuild
    // `keepNames`), so a named closure costs an Object.defineProperty each time it is made.
    if (failures.failsFlow) {
      const called = inNode(() => node.consume(...args));
      if (isPromiseLike(called)) await called;
    } else {
      done = (await failures.attempt(() => inNode(() => node.consume(...args)), input)).done;
    }
    meter.addProctime(clock.now() - started);
    if (done) meter.countProcessed();
  }
}

/**
 * Runs a task module's member call under the member's own policy (`members`: the members that have
 * one; the others' errors fail the flow, as in a processor of their own), on its own inputs: a dead
 * letter holds what the member was given, not what the module was.
 */
function memberAttempt(
  members: ReadonlyMap<ProcessorNode, ItemFailures>,
  input: Extract<InputSet, { kind: 'data' }>,
  inNode: NodeCodeRunner,
): MemberAttempt {
  return async (member, args, call) => {
    const failures = members.get(member);
    if (failures === undefined) return { done: true, value: await inNode(call) };
    return failures.attempt(() => inNode(call), { ...input, values: args as unknown[] });
  };
}

/**
 * After a `draining` end (see `InputSet`): the node's end has gone out; its parents still send until
 * they end, and what they send is discarded by the messenger (counted as dropped). Receives until
 * the final end, whose reason is the task's.
 */
async function untilFinalEnd(messenger: Messenger): Promise<EndReason> {
  for (;;) {
    const input = messenger.tryReceiveMessage?.() ?? (await messenger.receiveMessage());
    if (input.kind === 'end' && input.draining !== true) return input.reason;
  }
}

/**
 * Publishes the marker of an item given up (here or upstream) in its place, same seq and ticket, so
 * that nothing downstream waits for it. Not on engines that drop failing items: they never wait.
 */
async function publishMarker(
  messenger: Messenger,
  marker: SkippedItem,
  spec: TaskSpec,
  input: Extract<InputSet, { kind: 'data' }>,
): Promise<void> {
  if (messenger.dropsFailedItems === true) return;
  const { metas } = input;
  const meta = messageMetadata(
    input.seq,
    input.ticket,
    spec.nodeName,
    spec.taskIndex,
    0,
    0,
    earliestCreatedAt(metas),
    earliestTimestamp(metas),
  );
  const sending = messenger.publishMessage(marker, meta);
  if (sending !== undefined) await sending;
}

/*
 * A processor's output carries the earliest `createdAt` of its inputs, and the earliest `timestamp`
 * of those stamped (none stamped: none). Parents missing from a partial time-join group count for
 * nothing. No arrays: this runs for every message a processor publishes.
 */
function earliestCreatedAt(inputs: readonly (MessageMetadata | undefined)[]): number {
  let createdAt = Number.POSITIVE_INFINITY;
  for (const input of inputs) if (input !== undefined && input.createdAt < createdAt) createdAt = input.createdAt;
  return createdAt;
}

function earliestTimestamp(inputs: readonly (MessageMetadata | undefined)[]): number | undefined {
  let timestamp: number | undefined;
  for (const input of inputs) {
    if (input?.timestamp !== undefined && (timestamp === undefined || input.timestamp < timestamp)) timestamp = input.timestamp;
  }
  return timestamp;
}

/**
 * The iterator of what a producer's `produce()` returned. Anything that is neither an Iterable nor
 * an AsyncIterable (a number, undefined: a `produce` that forgot its `return` or its `*`) fails
 * the node with `PRODUCE_NOT_ITERABLE` naming it, not with a bare TypeError from deep inside vf.
 */
function iteratorOf(source: unknown, nodeName: string): Iterator<unknown> | AsyncIterator<unknown> {
  if (source !== null && source !== undefined) {
    const asyncIterator = (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
    if (typeof asyncIterator === 'function') return asyncIterator.call(source);
    const iterator = (source as Partial<Iterable<unknown>>)[Symbol.iterator];
    if (typeof iterator === 'function') return iterator.call(source);
  }
  throw new VfError(
    'PRODUCE_NOT_ITERABLE',
    `node "${nodeName}": produce() returned ${describeReceived(source)}, which is neither an Iterable nor an AsyncIterable: return an array, a generator or an async generator (or a promise of one)`,
    { details: { nodeName } },
  );
}

/** Counts and times one task's work. */
class TaskMeter {
  received = 0;
  emitted = 0;
  processed = 0;
  /** Processors and consumers: the `onError` policy at work, and its counts. */
  failures: ItemFailures | undefined;
  /** A task module: the policies of its members that have one, counted in the module's row. */
  memberFailures: ReadonlyMap<ProcessorNode, ItemFailures> | undefined;
  #proctimeTotal = 0;
  #began: number | undefined;
  #ended: number | undefined;
  #lastPublish: number | undefined;
  readonly #clock: Clock;
  #onFirstItem: (() => void) | undefined;

  constructor(clock: Clock, onFirstItem?: () => void) {
    this.#clock = clock;
    this.#onFirstItem = onFirstItem;
  }

  /** One more item through the node; the first one calls {@link TaskRunOptions.onFirstItem}. */
  countProcessed(): void {
    this.processed += 1;
    if (this.#onFirstItem === undefined) return;
    const first = this.#onFirstItem;
    this.#onFirstItem = undefined;
    first();
  }

  begin(): void {
    this.#began = this.#clock.now();
  }

  end(): void {
    this.#ended = this.#clock.now();
  }

  addProctime(ms: number): void {
    this.#proctimeTotal += ms;
  }

  /**
   * The metadata of an output computed from `started` to `finished` (`Clock.now()` ms; the clock is
   * read once per end, it costs on every message).
   */
  metadata(
    node: string,
    taskIndex: number,
    seq: number,
    ticket: number,
    started: number,
    finished: number,
    createdAt: number,
    timestamp: number | undefined,
  ): MessageMetadata {
    const proctimeMs = finished - started;
    const actualProctimeMs = finished - (this.#lastPublish ?? this.#began ?? finished);
    this.#lastPublish = finished;
    this.#proctimeTotal += proctimeMs;
    return messageMetadata(seq, ticket, node, taskIndex, proctimeMs, actualProctimeMs, createdAt, timestamp);
  }

  stats(messenger: Pick<Messenger, 'drops' | 'rejected' | 'joinGroups' | 'skipped'>, deviceDetail?: string): TaskStats {
    const failures = this.failures;
    const skipped = messenger.skipped?.() ?? [];
    const edgeFailures = failures === undefined ? skipped : [...failures.edgeFailures(), ...skipped];
    const drops = failures === undefined ? messenger.drops() : [...messenger.drops(), ...failures.discarded()];
    const detail = typeof deviceDetail === 'string' && deviceDetail !== '' ? deviceDetail.slice(0, DEVICE_DETAIL_MAX_LENGTH) : undefined;
    const rejected = messenger.rejected?.();
    const joins = messenger.joinGroups?.();
    const activeMs = this.#began === undefined ? 0 : (this.#ended ?? this.#clock.now()) - this.#began;
    let failed = failures?.failed ?? 0;
    let deadLettered = failures?.deadLettered ?? 0;
    let retried = failures?.retried ?? 0;
    for (const member of this.memberFailures?.values() ?? []) {
      failed += member.failed;
      deadLettered += member.deadLettered;
      retried += member.retried;
    }
    return {
      received: this.received,
      emitted: this.emitted,
      dropped: drops.reduce((total, edge) => total + edge.count, 0),
      drops,
      processed: this.processed,
      proctimeTotalMs: this.#proctimeTotal,
      activeMs,
      ...(rejected === undefined ? {} : { rejected }),
      ...(failures === undefined || (failed === 0 && retried === 0 && edgeFailures.length === 0)
        ? {}
        : { failed, deadLettered, retried, failures: edgeFailures }),
      ...(joins === undefined ? {} : { joins }),
      ...(detail === undefined ? {} : { deviceDetail: detail }),
    };
  }
}
