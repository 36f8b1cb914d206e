import type { EdgeFailures, JoinGroupCounts } from '../contracts/engine.js';
import type { EndReason, Envelope, InputSet, MessageMetadata } from '../contracts/messenger.js';
import type { TimeJoinSpec } from '../nodes/joinOptions.js';
import type { PlannedNode } from '../plan/executionPlan.js';
import { type Clock, systemClock } from './clock.js';
import { type AlignmentPolicy, EdgeBuffer, InputAligner, type ReleaseListener, type SeqRoute } from './inputAligner.js';
import { isSkippedItem, SkippedItem } from './skippedItem.js';

type DataEnvelope = Extract<Envelope, { kind: 'data' }>;
type DataSet = Extract<InputSet, { kind: 'data' }>;

/**
 * What a messenger needs of the component that turns a node's incoming messages into input sets:
 * an {@link InputAligner} (by origin) or a {@link TimeAligner} (by event time). Pure and
 * synchronous; the messenger adds the waiting, waking up at {@link nextDeadline} when there is one.
 */
export interface NodeAligner {
  /** Messages discarded so far, per parent (wiring order). */
  readonly droppedByParent: readonly number[];
  canAccept(parentIndex: number, envelope: Envelope, capacity: number): boolean;
  push(parentIndex: number, envelope: Envelope, capacity?: number): void;
  /**
   * The next input set, the end of the stream, or undefined when more input (or time) is needed.
   * `taker`: which of the node's tasks sharing the aligner takes (see `InputAligner.take`).
   */
  take(taker?: number): InputSet | undefined;
  takeRaw(): { parentIndex: number; envelope: Envelope } | undefined;
  /**
   * Origins `seqs` are done: a lost replica of this node released their outputs (`restartOnFailure`),
   * so copies of their inputs re-sent by other parents are dropped as duplicates. Optional: an
   * aligner without it waits for partners that may never come (time joins close groups anyway).
   */
  markDone?(seqs: readonly number[]): void;
  /** When (`Clock.now()` ms) `take()` may have something without new input; undefined: only new input can change it. */
  nextDeadline?(): number | undefined;
  /** Time joins: groups released complete, released partial, and dropped. */
  joinGroups?(): JoinGroupCounts;
  /**
   * Time joins: per parent, the markers of items given up upstream (`onError`) that it consumed,
   * as that parent's absence from the groups (see {@link SkippedCounts}). Other aligners hand
   * markers on to the task loop, which counts them.
   */
  readonly skippedByParent?: readonly SkippedCounts[];
}

/** Markers of one parent consumed by a time join: items given up upstream, and of those, dead-lettered. */
export interface SkippedCounts {
  readonly failed: number;
  readonly deadLettered: number;
}

/**
 * The edges into node `to` on which a time join consumed markers ({@link NodeAligner.skippedByParent}),
 * as a messenger's `skipped()` reports them; `parentName` names the parent of each index.
 */
export function skippedEdges(counts: readonly SkippedCounts[], to: string, parentName: (parentIndex: number) => string): EdgeFailures[] {
  return counts
    .map(({ failed, deadLettered }, parentIndex) => ({ from: parentName(parentIndex), to, failed, deadLettered }))
    .filter((edge) => edge.failed > 0);
}

/** The event time of a message: the timestamp its producer stamped, else its capture time. */
export function eventTime(meta: MessageMetadata): number {
  return meta.timestamp ?? meta.createdAt;
}

/** Options of {@link createNodeAligner} beyond the parents. */
export interface NodeAlignerOptions {
  readonly onRelease?: ReleaseListener;
  readonly policy?: AlignmentPolicy;
  readonly route?: SeqRoute;
  /** Time joins: how the node's parents are grouped (none: by origin). */
  readonly join?: TimeJoinSpec;
  /** Time joins: room of each edge, in messages (queue size × the parent's tasks). */
  readonly capacity?: readonly number[];
  /** Time joins: per parent, the other parents fed by what feeds it (see {@link convergingParents}). */
  readonly converging?: readonly (readonly number[])[];
  readonly clock?: Clock;
}

/**
 * What a time join's aligner takes from the plan (nothing for another node): its spec, each edge's
 * room (queue size × the parent's tasks) and its converging parents. Every engine derives them alike.
 */
export function timeJoinAlignerOptions(
  nodes: readonly PlannedNode[],
  nodeIndex: number,
  queueSize: number,
): Pick<NodeAlignerOptions, 'join' | 'capacity' | 'converging'> {
  const node = nodes[nodeIndex];
  if (node?.join === undefined) return {};
  return {
    join: node.join,
    capacity: node.parents.map((parent) => queueSize * (nodes[parent]?.nbTasks ?? 1)),
    converging: convergingParents(nodes, nodeIndex),
  };
}

/** The aligner for a node: by event time when it has a time join, else by origin. */
export function createNodeAligner(parentReplicas: readonly number[], options: NodeAlignerOptions = {}): NodeAligner {
  if (options.join === undefined) return new InputAligner(parentReplicas, options.onRelease, options.policy, options.route);
  return new TimeAligner(parentReplicas, options.join, options);
}

/** The marker of a group dropped below the quorum: one object, never changed, for every such group. */
const GROUP_DROPPED = Object.freeze(new SkippedItem('', false, true));

interface Pending {
  readonly envelope: DataEnvelope;
  readonly time: number;
  /** `Clock.now()` when it arrived: a group's timeout runs from its first arrival. */
  readonly arrivedAt: number;
  /** It still holds its room on the edge (batch: until its group closes, or until lent; realtime: never). */
  holdsRoom: boolean;
}

/**
 * Per parent of node `nodeIndex`, the other parents that converge with it: both are fed by one
 * node (or one feeds the other). Every node keeps pace with its inputs: one message per input set
 * (a marker for an item given up), a time join one per group it closes (a marker for a group it
 * drops below its quorum), until its end. Such a pair's progress is tied: the node above sends to
 * both, and waits for room on either, so one can run ahead of the other by no more than the queues
 * (and time joins' windows) between them.
 */
export function convergingParents(nodes: readonly PlannedNode[], nodeIndex: number): number[][] {
  const feeders = new Map<number, ReadonlySet<number>>();
  // The node and everything that feeds it.
  const fedBy = (index: number): ReadonlySet<number> => {
    const known = feeders.get(index);
    if (known !== undefined) return known;
    const found = new Set<number>([index]);
    for (const parent of nodes[index]?.parents ?? []) for (const above of fedBy(parent)) found.add(above);
    feeders.set(index, found);
    return found;
  };
  const parents = nodes[nodeIndex]?.parents ?? [];
  return parents.map((parent, parentIndex) =>
    parents.flatMap((other, otherIndex) =>
      otherIndex !== parentIndex && [...fedBy(parent)].some((above) => fedBy(other).has(above)) ? [otherIndex] : [],
    ),
  );
}

interface Window {
  readonly anchor: number;
  /** Per parent: how many of its pending items (a prefix, sorted by time) fall in the window. */
  readonly counts: readonly number[];
}

interface ReadyGroup {
  readonly set: DataSet;
  readonly complete: boolean;
  /** A group dropped below the quorum: the set is its marker ({@link SkippedItem.groupDropped}). */
  readonly dropped?: true;
  /** Per parent, how many messages are behind the set (to count them if the group is dropped as stale). */
  readonly members: readonly number[];
}

/**
 * Groups a node's inputs by event time (see `TimeJoinOptions` for the rule). Each parent's
 * messages are first put back in its output order (an {@link EdgeBuffer}, for replicated
 * parents), then kept sorted by event time until their group closes.
 *
 * - `ordered` (batch, InProcess): a group closes when every missing parent has sent a later item,
 *   has ended, or has no room left for more (its edge is full: waiting could deadlock); no wall
 *   clock is read, so the groups depend on the data alone. A message keeps its room (credit) until
 *   its group closes: backpressure holds. Parents that converge (`converging`) never count as
 *   full; while one of them, or a replicated parent, can still add to the open group, their pending
 *   messages give their room back (see #lendRoom).
 * - `freshest` (realtime): also on `timeoutMs` of wall time from the group's first arrival.
 *   Messages give their room back on arrival (publishers never wait); what is pending is bounded
 *   by the timeout. At most `sum(capacity)` closed groups wait for the node; older ones are dropped.
 *
 * A message whose event time is earlier than the start of a group already closed is late: dropped.
 * Groups released are numbered 0, 1, 2, ... (`seq` and `ticket`: a time join starts a new origin);
 * batch: a group dropped below the quorum takes the next number too, for its marker.
 */
export class TimeAligner implements NodeAligner {
  readonly #edges: EdgeBuffer[];
  readonly #pending: Pending[][];
  readonly #watermark: number[];
  readonly #dropped: number[];
  readonly #skipped: { failed: number; deadLettered: number }[];
  readonly #spec: TimeJoinSpec;
  readonly #quorum: number;
  readonly #policy: AlignmentPolicy;
  readonly #clock: Clock;
  readonly #onRelease: ReleaseListener | undefined;
  readonly #capacity: readonly number[];
  /** Per parent: its pending messages that still hold their room. */
  readonly #holding: number[];
  readonly #converging: readonly (readonly number[])[];
  readonly #readyCapacity: number;
  readonly #ready: ReadyGroup[] = [];
  readonly #counts = { complete: 0, partial: 0, dropped: 0 };
  #lastAnchor = Number.NEGATIVE_INFINITY;
  /** {@link take} has returned the `draining` end (a time join runs as one task). */
  #saidDraining = false;
  #nextSeq = 0;
  #duplicates = 0;

  constructor(parentReplicas: readonly number[], spec: TimeJoinSpec, options: Omit<NodeAlignerOptions, 'join' | 'route'> = {}) {
    this.#policy = options.policy ?? 'ordered';
    this.#edges = parentReplicas.map((replicas) => new EdgeBuffer(replicas, this.#policy));
    this.#pending = parentReplicas.map(() => []);
    this.#watermark = parentReplicas.map(() => Number.NEGATIVE_INFINITY);
    this.#dropped = parentReplicas.map(() => 0);
    this.#skipped = parentReplicas.map(() => ({ failed: 0, deadLettered: 0 }));
    this.#spec = spec;
    this.#quorum = spec.quorum ?? parentReplicas.length;
    this.#clock = options.clock ?? systemClock;
    this.#onRelease = options.onRelease;
    this.#capacity = options.capacity ?? parentReplicas.map(() => Number.POSITIVE_INFINITY);
    this.#holding = parentReplicas.map(() => 0);
    this.#converging = options.converging ?? parentReplicas.map(() => []);
    // As much as the edges hold together: one arrival can settle a partial group and a complete one
    // at once, and neither is stale yet.
    this.#readyCapacity = Math.max(
      1,
      this.#capacity.reduce((total, room) => total + room, 0),
    );
  }

  get droppedByParent(): readonly number[] {
    return this.#dropped;
  }

  get skippedByParent(): readonly SkippedCounts[] {
    return this.#skipped;
  }

  /** Copies of messages already received (re-sent after a replica died). Not losses. */
  get duplicates(): number {
    return this.#duplicates;
  }

  joinGroups(): JoinGroupCounts {
    return { ...this.#counts };
  }

  get #releasesOnArrival(): boolean {
    return this.#policy === 'freshest';
  }

  canAccept(parentIndex: number, envelope: Envelope, capacity: number): boolean {
    if (envelope.kind === 'end') return true;
    return this.#edge(parentIndex).canAccept(envelope.meta.ticket, capacity - (this.#holding[parentIndex] ?? 0));
  }

  push(parentIndex: number, envelope: Envelope): void {
    const edge = this.#edge(parentIndex);
    const accepted = edge.push(envelope);
    if (accepted !== 'accepted') {
      if (accepted === 'stale') this.#count(parentIndex, 1);
      else this.#duplicates += 1;
      this.#onRelease?.(parentIndex, envelope, 'refused');
      return;
    }
    for (let head = edge.shift(); head !== undefined; head = edge.shift()) this.#admit(parentIndex, head);
    // Realtime: close what timed out now, so that pending items stay bounded by the timeout even
    // while the node is busy and not taking.
    if (this.#releasesOnArrival) this.#advance(Number.POSITIVE_INFINITY);
  }

  #admit(parentIndex: number, envelope: DataEnvelope): void {
    const time = eventTime(envelope.meta);
    if (this.#releasesOnArrival) this.#onRelease?.(parentIndex, envelope, 'taken');
    if (isSkippedItem(envelope.value)) {
      // An item given up upstream: this parent is absent from the group, exactly as if it had never
      // sent the item (realtime sends no markers), so every engine makes the same groups. The marker
      // only says the parent has got that far in time; its room goes back now.
      if (!this.#releasesOnArrival) this.#onRelease?.(parentIndex, envelope, 'taken');
      const skipped = this.#skipped[parentIndex] as { failed: number; deadLettered: number };
      if (!envelope.value.groupDropped) skipped.failed += 1;
      if (envelope.value.deadLettered) skipped.deadLettered += 1;
      if (time > (this.#watermark[parentIndex] as number)) this.#watermark[parentIndex] = time;
      return;
    }
    if (time < this.#lastAnchor) {
      // Its group has closed already: too late to join one.
      if (!this.#releasesOnArrival) this.#onRelease?.(parentIndex, envelope, 'discarded');
      this.#count(parentIndex, 1);
      return;
    }
    const list = this.#pending[parentIndex] as Pending[];
    let at = list.length;
    while (at > 0 && (list[at - 1] as Pending).time > time) at -= 1;
    const holdsRoom = !this.#releasesOnArrival;
    if (holdsRoom) this.#holding[parentIndex] = (this.#holding[parentIndex] ?? 0) + 1;
    list.splice(at, 0, { envelope, time, arrivedAt: this.#clock.now(), holdsRoom });
    if (time > (this.#watermark[parentIndex] as number)) this.#watermark[parentIndex] = time;
  }

  take(): InputSet | undefined {
    if (this.#ready.length === 0) this.#advance(this.#releasesOnArrival ? Number.POSITIVE_INFINITY : 1);
    const next = this.#ready.shift();
    if (next !== undefined) {
      if (next.complete) this.#counts.complete += 1;
      else if (next.dropped !== true) this.#counts.partial += 1;
      return next.set;
    }
    const live = this.#edges.filter((_edge, parentIndex) => !this.#ended(parentIndex)).length;
    if (live === 0) return { kind: 'end', reason: this.#endReason() };
    // Fewer parents can still send than the quorum: every group from now on is dropped. As for an
    // origin join whose parent has ended (`InputAligner.take`), the node's end goes out now; its
    // groups are still closed (and dropped, counted) as the others send, until they end.
    if (live >= this.#quorum || this.#saidDraining) return undefined;
    this.#saidDraining = true;
    return { kind: 'end', reason: this.#endReason(), draining: true };
  }

  takeRaw(): { parentIndex: number; envelope: Envelope } | undefined {
    for (const [parentIndex, list] of this.#pending.entries()) {
      const head = list.shift();
      if (head === undefined) continue;
      this.#giveRoom(parentIndex, head, 'taken');
      return { parentIndex, envelope: head.envelope };
    }
    if (!this.#edges.every((_edge, parentIndex) => this.#ended(parentIndex))) return undefined;
    return { parentIndex: 0, envelope: { kind: 'end', reason: this.#endReason() } };
  }

  nextDeadline(): number | undefined {
    if (!this.#releasesOnArrival) return undefined;
    const window = this.#window();
    return window === undefined ? undefined : this.#firstArrival(window) + this.#spec.timeoutMs;
  }

  #endReason(): EndReason {
    return this.#edges.some((edge) => edge.endReason === 'stopped') ? 'stopped' : 'completed';
  }

  /** Ended, and nothing of it is pending: nothing more will ever come from this parent. */
  #ended(parentIndex: number): boolean {
    return (this.#edges[parentIndex] as EdgeBuffer).ended && (this.#pending[parentIndex] as Pending[]).length === 0;
  }

  /** The oldest open group: it starts at the earliest pending event time. */
  #window(): Window | undefined {
    let anchor = Number.POSITIVE_INFINITY;
    for (const list of this.#pending) if (list.length > 0 && (list[0] as Pending).time < anchor) anchor = (list[0] as Pending).time;
    if (anchor === Number.POSITIVE_INFINITY) return undefined;
    const end = anchor + this.#spec.toleranceMs;
    const counts = this.#pending.map((list) => {
      let count = 0;
      while (count < list.length && (list[count] as Pending).time <= end) count += 1;
      return count;
    });
    return { anchor, counts };
  }

  #firstArrival(window: Window): number {
    let first = Number.POSITIVE_INFINITY;
    for (const [parentIndex, count] of window.counts.entries()) {
      for (const item of (this.#pending[parentIndex] as Pending[]).slice(0, count)) first = Math.min(first, item.arrivedAt);
    }
    return first;
  }

  /** Whether parent `parentIndex` can add nothing more to `window`. */
  #settled(parentIndex: number, window: Window): boolean {
    const count = window.counts[parentIndex] as number;
    if (count > 0 && this.#spec.collect === 'first') return true;
    const edge = this.#edges[parentIndex] as EdgeBuffer;
    if (edge.ended || (this.#watermark[parentIndex] as number) > window.anchor + this.#spec.toleranceMs) return true;
    // Batch: an edge without room can send nothing more until a group closes. Not so for a parent
    // that converges with another: it is lent room instead (see #lendRoom). What was lent still
    // counts here: it is held all the same.
    if (this.#releasesOnArrival || (this.#converging[parentIndex] as readonly number[]).length > 0) return false;
    return (this.#pending[parentIndex] as Pending[]).length + edge.size >= (this.#capacity[parentIndex] as number);
  }

  /**
   * Batch: a parent that converges with others (all fed by one node, e.g. `p` and a node fed by
   * `p`) and can still add to the open group may be waiting, through that node, for one of them to
   * send on, whose edge is full (with `collect: 'first'` one item in the group settles a parent,
   * which may still hold the room the other needs). So the pending messages of such a parent and of
   * those it converges with give their room back; they stay in their groups. What they then send
   * ahead of it is bounded by the queues between them, and it lags by at most the tolerance: what
   * the join holds beyond their room is at most what the tolerance spans plus those queues.
   *
   * A replicated parent that can still add to the open group is lent its room too. Its edge holds
   * `capacity` (the queue × its tasks), but each task has only the queue's share: one task may hold
   * the open group's messages and the next one in order while the others have nothing left to send
   * (its stream's end), and the edge never fills. What was lent still counts against the edge
   * ({@link #settled}), so the join holds at most twice its capacity for it.
   */
  #lendRoom(window: Window): void {
    for (const [parentIndex, others] of this.#converging.entries()) {
      const lends = others.length > 0 || (this.#edges[parentIndex] as EdgeBuffer).replicas > 1;
      if (!lends || this.#settled(parentIndex, window)) continue;
      for (const lender of [parentIndex, ...others])
        for (const item of this.#pending[lender] as Pending[]) this.#giveRoom(lender, item, 'taken');
    }
  }

  /** `item`'s room goes back to its sender, if it still holds it. */
  #giveRoom(parentIndex: number, item: Pending, how: 'taken' | 'discarded'): void {
    if (!item.holdsRoom) return;
    item.holdsRoom = false;
    this.#holding[parentIndex] = (this.#holding[parentIndex] as number) - 1;
    this.#onRelease?.(parentIndex, item.envelope, how);
  }

  /** Closes groups that can no longer change (or, realtime, have timed out) until `limit` are released. */
  #advance(limit: number): void {
    for (let released = 0; released < limit; ) {
      const window = this.#window();
      if (window === undefined) return;
      const settled = this.#edges.every((_edge, parentIndex) => this.#settled(parentIndex, window));
      const timedOut = this.#releasesOnArrival && this.#clock.now() - this.#firstArrival(window) >= this.#spec.timeoutMs;
      if (!settled && !timedOut) {
        if (!this.#releasesOnArrival) this.#lendRoom(window);
        return;
      }
      if (this.#close(window)) released += 1;
    }
  }

  /** Closes the group of `window`; true when it is released (or, batch, the marker of its drop is), else false. */
  #close(window: Window): boolean {
    this.#lastAnchor = window.anchor;
    const values: unknown[] = [];
    const metas: (MessageMetadata | undefined)[] = [];
    const members: Pending[][] = [];
    const superseded: Pending[][] = [];
    for (const [parentIndex, count] of window.counts.entries()) {
      const list = this.#pending[parentIndex] as Pending[];
      const taken = list.splice(0, count === 0 ? 0 : this.#spec.collect === 'first' ? 1 : count);
      const kept = this.#spec.collect === 'last' ? taken.slice(-1) : taken;
      members.push(kept);
      superseded.push(this.#spec.collect === 'last' ? taken.slice(0, -1) : []);
      const head = kept[0];
      values.push(
        head === undefined ? undefined : this.#spec.collect === 'all' ? kept.map((item) => item.envelope.value) : head.envelope.value,
      );
      metas.push(head?.envelope.meta);
    }
    for (const [parentIndex, items] of superseded.entries()) this.#discard(parentIndex, items);
    const present = members.filter((kept) => kept.length > 0).length;
    if (present < this.#quorum) {
      for (const [parentIndex, items] of members.entries()) this.#discard(parentIndex, items);
      this.#counts.dropped += 1;
      // Batch: the node sends a marker in the group's place (its event time is the group's), so a
      // time join below, waiting to hear how far this one has got, need not wait for its next group
      // or its end. Not once its end has gone out (draining), nor on realtime, which never waits.
      if (this.#releasesOnArrival || this.#saidDraining) return false;
      const seq = this.#nextSeq++;
      const values = members.map(() => GROUP_DROPPED);
      this.#ready.push({ set: { kind: 'data', seq, ticket: seq, values, metas }, complete: false, members: [], dropped: true });
      return true;
    }
    for (const [parentIndex, items] of members.entries()) for (const item of items) this.#giveRoom(parentIndex, item, 'taken');
    const seq = this.#nextSeq++;
    this.#ready.push({
      set: { kind: 'data', seq, ticket: seq, values, metas },
      complete: present === members.length,
      members: members.map((items) => items.length),
    });
    // Realtime: the node sees the freshest groups; older ones waiting for it go.
    while (this.#ready.length > this.#readyCapacity) {
      const stale = this.#ready.shift() as ReadyGroup;
      for (const [parentIndex, count] of stale.members.entries()) this.#count(parentIndex, count);
      this.#counts.dropped += 1;
    }
    return true;
  }

  #discard(parentIndex: number, items: readonly Pending[]): void {
    for (const item of items) this.#giveRoom(parentIndex, item, 'discarded');
    this.#count(parentIndex, items.length);
  }

  #count(parentIndex: number, count: number): void {
    this.#dropped[parentIndex] = (this.#dropped[parentIndex] ?? 0) + count;
  }

  #edge(parentIndex: number): EdgeBuffer {
    const edge = this.#edges[parentIndex];
    if (edge === undefined) throw new RangeError(`no parent ${parentIndex}`);
    return edge;
  }
}
