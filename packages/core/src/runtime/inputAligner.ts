import type { EndReason, Envelope, InputSet, MessageMetadata } from '../contracts/messenger.js';

type DataEnvelope = Extract<Envelope, { kind: 'data' }>;

/**
 * How a message left the buffers: taken in an input set, discarded (unmatched, stale), or refused
 * on arrival. `kept`: it has not left, but its room goes back now (a `freshest` join holds it in its
 * window beyond the edge's capacity, see {@link JOIN_WINDOW}); it is not reported again when it leaves.
 */
export type ReleaseKind = 'taken' | 'discarded' | 'refused' | 'kept';

/** Told once of every message that leaves an {@link InputAligner}, or whose room it hands back before (`kept`). */
export type ReleaseListener = (parentIndex: number, envelope: Envelope, how: ReleaseKind) => void;

/**
 * `freshest` joins: messages an edge may hold while they wait for their partners (same origin) on
 * the other edges, when that is more than the edge's capacity (`queueSize` × the parent's tasks).
 * A join behind branches of different latency (a detector's output joined back with its frame)
 * sees each fast item before its slow partner: with room for one message, every fast item was
 * pushed out by the next before its partner came, and next to nothing was paired. 16 covers a
 * branch 16 items behind (about 0.5 s at 30 fps, 0.25 s at 60 fps: a detector's usual latency) and
 * bounds memory to 16 messages per edge. Only a message that can still be paired stays beyond the
 * capacity, and its room goes back on arrival as before (`kept`): publishers never wait for it.
 */
export const JOIN_WINDOW = 16;

/**
 * How a node's inputs are released. `ordered` (batch): every message, in the parent's output
 * order, waiting for a slow replica's output. `freshest` (realtime): never wait for a gap (a
 * message dropped upstream never comes); a message older than one already released is discarded;
 * each step takes the freshest complete input set and discards the older ones. An edge holds
 * `capacity` messages (the oldest go first); a join's edge also holds, up to {@link JOIN_WINDOW},
 * those that can still be paired.
 */
export type AlignmentPolicy = 'ordered' | 'freshest';

/**
 * Which share of a node's input one replica receives when its senders route by origin (`seq`):
 * replica `index` of `replicas` owns the seqs with `seq % replicas === index` (see {@link routeBySeq}).
 */
export interface SeqRoute {
  readonly replicas: number;
  readonly index: number;
}

/**
 * The replica of a node that gets origin `seq` when senders route by origin: `seq % replicas`, or,
 * when that replica is lost, the first survivor in a probe sequence that depends on `seq` alone.
 * Because the sequence does not depend on which replicas are lost, two senders that learn of
 * losses at different moments still agree wherever both routes are alive (a join's inputs of one
 * origin meet at one replica), and a lost replica's share spreads evenly over the survivors.
 * Undefined when every replica is lost.
 */
export function routeBySeq(seq: number, replicas: number, isLost: (index: number) => boolean): number | undefined {
  const home = seq % replicas;
  if (!isLost(home)) return home;
  const round = Math.floor(seq / replicas);
  for (let step = 0; step < replicas - 1; step++) {
    const candidate = (home + 1 + ((round + step) % (replicas - 1))) % replicas;
    if (!isLost(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The messages of one edge (parent → node), in the parent's output order. When the parent runs
 * as several replicas their outputs arrive out of order; they are released by `ticket`, so the
 * node sees them in the order the parent received its inputs.
 */
export class EdgeBuffer {
  readonly #replicas: number;
  readonly #policy: AlignmentPolicy;
  /** `ordered` with one replica, and `freshest` always: messages in ticket order. */
  readonly #fifo: DataEnvelope[] = [];
  /** `ordered` with several replicas: messages by ticket, released without gaps. */
  readonly #byTicket = new Map<number, DataEnvelope>();
  /** `ordered` and routed by origin: this replica's share, see {@link #routed}. */
  readonly #route: SeqRoute | undefined;
  /** Routed: messages of another replica's share, given to this one because it was lost; by seq. */
  readonly #adopted: DataEnvelope[] = [];
  /** Routed: seqs of adopted messages already released (a re-sent copy is a duplicate). */
  readonly #adoptedTaken = new Set<number>();
  #nextTicket = 0;
  #ends = 0;
  #reason: EndReason = 'completed';

  /**
   * @param replicas tasks of the parent node
   * @param route set when the parent's tasks route to this node's replicas by origin (batch:
   *   the messages of this replica's share are released strictly in seq order)
   */
  constructor(replicas: number, policy: AlignmentPolicy = 'ordered', route?: SeqRoute) {
    this.#replicas = replicas;
    this.#policy = policy;
    this.#route = policy === 'ordered' && route !== undefined && route.replicas > 1 ? route : undefined;
    if (this.#route !== undefined) this.#nextTicket = this.#route.index;
  }

  /** Tasks of the parent node. */
  get replicas(): number {
    return this.#replicas;
  }

  get #keyedByTicket(): boolean {
    return this.#route === undefined && this.#replicas > 1 && this.#policy === 'ordered';
  }

  /**
   * `ordered` edges into a replica that receives by origin: its share (`seq % replicas === index`)
   * is released strictly in seq order, the next one awaited even when later ones have arrived
   * (keyed by seq, `#byTicket` then holds seqs and `#nextTicket` the next seq of the share), so a
   * replica processes in origin order whoever sent what — what keeps bounded queues deadlock-free
   * downstream. Messages outside the share (`#adopted`: a lost replica's, re-routed) come in no
   * known order: they are released as soon as they are older than the next own message.
   */
  get routed(): boolean {
    return this.#route !== undefined;
  }

  get size(): number {
    if (this.#route !== undefined) return this.#byTicket.size + this.#adopted.length;
    return this.#keyedByTicket ? this.#byTicket.size : this.#fifo.length;
  }

  /** All replicas of the parent have ended. */
  get allEndsReceived(): boolean {
    return this.#ends >= this.#replicas;
  }

  /** Ended and drained: nothing more will ever come from this edge. */
  get ended(): boolean {
    return this.allEndsReceived && this.size === 0;
  }

  get endReason(): EndReason {
    return this.#reason;
  }

  /**
   * Whether a publisher may add `ticket` now. The next ticket in order is always accepted, so a
   * slow replica holding it can never be starved by faster ones filling the buffer.
   */
  canAccept(ticket: number, capacity: number): boolean {
    return this.size < capacity || (this.#keyedByTicket && ticket === this.#nextTicket);
  }

  #pushRouted(route: SeqRoute, envelope: DataEnvelope): 'accepted' | 'duplicate' {
    const { seq } = envelope.meta;
    if (seq % route.replicas === route.index) {
      if (seq < this.#nextTicket || this.#byTicket.has(seq)) return 'duplicate';
      this.#byTicket.set(seq, envelope);
      return 'accepted';
    }
    if (this.#adoptedTaken.has(seq) || this.#adopted.some((kept) => kept.meta.seq === seq)) return 'duplicate';
    let at = this.#adopted.length;
    while (at > 0 && (this.#adopted[at - 1] as DataEnvelope).meta.seq > seq) at -= 1;
    this.#adopted.splice(at, 0, envelope);
    return 'accepted';
  }

  #peekRouted(): DataEnvelope | undefined {
    const adopted = this.#adopted[0];
    if (adopted !== undefined && adopted.meta.seq < this.#nextTicket) return adopted;
    const own = this.#byTicket.get(this.#nextTicket);
    if (own !== undefined || !this.allEndsReceived) return own;
    // Every sender has ended: a missing seq will never come; release what is left in seq order.
    if (this.#byTicket.size === 0) return adopted;
    const lowest = Math.min(...this.#byTicket.keys());
    if (adopted !== undefined && adopted.meta.seq < lowest) return adopted;
    this.#nextTicket = lowest;
    return this.#byTicket.get(lowest);
  }

  /**
   * Routed: origin `seq` is done (a lost replica of this node released its output; a parent says so
   * with `done`), so a copy of it from another parent, re-sent when the replica died, will never find
   * its partner: the copy queued here, if any, is returned (the caller releases it), and any later one
   * is a duplicate. This replica's own share is never done elsewhere: nothing changes for it.
   */
  markDone(seq: number): DataEnvelope | undefined {
    const route = this.#route;
    if (route === undefined || seq % route.replicas === route.index || this.#adoptedTaken.has(seq)) return undefined;
    this.#adoptedTaken.add(seq);
    const at = this.#adopted.findIndex((kept) => kept.meta.seq === seq);
    return at < 0 ? undefined : this.#adopted.splice(at, 1)[0];
  }

  /**
   * Adds an envelope. `stale`: a `freshest` edge refuses a message older than one it already
   * released (a late replica's output); the caller counts it as dropped. `duplicate`: an `ordered`
   * edge already has this ticket (a replica died after sending its output, and the item was
   * re-dispatched to another); the copy is not needed and is not a loss.
   */
  push(envelope: Envelope): 'accepted' | 'stale' | 'duplicate' {
    if (envelope.kind === 'end') {
      this.#ends += 1;
      if (envelope.reason === 'stopped') this.#reason = 'stopped';
      return 'accepted';
    }
    if (this.#route !== undefined) return this.#pushRouted(this.#route, envelope);
    if (this.#keyedByTicket) {
      const { ticket } = envelope.meta;
      if (ticket < this.#nextTicket || this.#byTicket.has(ticket)) return 'duplicate';
      this.#byTicket.set(ticket, envelope);
      return 'accepted';
    }
    if (this.#replicas === 1) {
      this.#fifo.push(envelope);
      return 'accepted';
    }
    // `freshest` with several replicas: outputs arrive out of order; one older than a message
    // already released is refused, the others are kept in ticket order (almost always at the end).
    if (envelope.meta.ticket < this.#nextTicket) return 'stale';
    let at = this.#fifo.length;
    while (at > 0 && (this.#fifo[at - 1] as DataEnvelope).meta.ticket > envelope.meta.ticket) at -= 1;
    this.#fifo.splice(at, 0, envelope);
    return 'accepted';
  }

  /** The messages waiting, oldest first (`freshest` and one-replica edges). */
  get queued(): readonly DataEnvelope[] {
    return this.#fifo;
  }

  /** The next message in order, if it has arrived. */
  peek(): DataEnvelope | undefined {
    if (this.#route !== undefined) return this.#peekRouted();
    if (!this.#keyedByTicket) return this.#fifo[0];
    const next = this.#byTicket.get(this.#nextTicket);
    if (next !== undefined || !this.allEndsReceived || this.#byTicket.size === 0) return next;
    // Every replica has ended, so a missing ticket will never come: skip the gap.
    this.#nextTicket = Math.min(...this.#byTicket.keys());
    return this.#byTicket.get(this.#nextTicket);
  }

  shift(): DataEnvelope | undefined {
    const head = this.peek();
    if (head === undefined) return undefined;
    if (this.#route !== undefined) {
      if (head === this.#adopted[0]) {
        this.#adopted.shift();
        this.#adoptedTaken.add(head.meta.seq);
      } else {
        this.#byTicket.delete(head.meta.seq);
        this.#nextTicket = head.meta.seq + this.#route.replicas;
      }
    } else if (this.#keyedByTicket) {
      this.#byTicket.delete(this.#nextTicket);
      this.#nextTicket += 1;
    } else {
      this.#fifo.shift();
      if (this.#replicas > 1) this.#nextTicket = head.meta.ticket + 1;
    }
    return head;
  }
}

/**
 * Aligns a node's inputs by origin: the k-th input set holds, from every parent, the message
 * derived from the same producer item (same `seq`). Messages that can no longer be matched (older
 * than a message another parent already delivered, or arriving after another parent ended) are
 * discarded and counted per parent in {@link droppedByParent}. Pure and synchronous: engines add
 * the waiting.
 */
export class InputAligner {
  readonly edges: readonly EdgeBuffer[];
  readonly #policy: AlignmentPolicy;
  readonly #dropped: number[];
  #duplicates = 0;
  readonly #onRelease: ReleaseListener | undefined;
  /** The one edge of an `ordered` node with one parent: {@link take}'s common case, without the general alignment. */
  readonly #single: EdgeBuffer | undefined;
  /** Per parent: the newest origin that has left its edge (taken or discarded); -1 before any. */
  readonly #released: number[];
  /** Per parent: messages a `freshest` join keeps beyond the edge's capacity, their room handed back (`kept`). */
  readonly #kept: Set<Envelope>[];
  /** The takers {@link take} has given the `draining` end: only the final one is left for them. */
  readonly #toldDraining = new Set<number>();

  /**
   * @param parentReplicas number of tasks of each parent, in wiring order
   * @param onRelease called for every message that leaves the buffers (taken, discarded, or
   *   refused on arrival), so a transport can hand back the room it took (credits)
   * @param policy `ordered` (batch, default) or `freshest` (realtime), see {@link AlignmentPolicy}
   * @param route this replica's share when the parents route to the node's replicas by origin
   */
  constructor(parentReplicas: readonly number[], onRelease?: ReleaseListener, policy: AlignmentPolicy = 'ordered', route?: SeqRoute) {
    this.edges = parentReplicas.map((replicas) => new EdgeBuffer(replicas, policy, route));
    this.#dropped = parentReplicas.map(() => 0);
    this.#onRelease = onRelease;
    this.#policy = policy;
    this.#single = policy === 'ordered' && this.edges.length === 1 ? this.edges[0] : undefined;
    this.#released = parentReplicas.map(() => -1);
    this.#kept = parentReplicas.map(() => new Set());
  }

  #shift(parentIndex: number, how: ReleaseKind = 'taken'): Envelope | undefined {
    const envelope = this.edges[parentIndex]?.shift();
    if (envelope === undefined) return undefined;
    if (envelope.meta.seq > (this.#released[parentIndex] as number)) this.#released[parentIndex] = envelope.meta.seq;
    // A kept message's room went back when it was kept.
    if (!this.#kept[parentIndex]?.delete(envelope)) this.#onRelease?.(parentIndex, envelope, how);
    return envelope;
  }

  #discardHead(parentIndex: number): boolean {
    if (this.#shift(parentIndex, 'discarded') === undefined) return false;
    this.#dropped[parentIndex] = (this.#dropped[parentIndex] ?? 0) + 1;
    return true;
  }

  /** Messages discarded so far, all parents together. */
  get dropped(): number {
    return this.#dropped.reduce((total, count) => total + count, 0);
  }

  /** Copies of messages already received, discarded (outputs re-sent after a replica died). Not losses. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** Messages discarded so far, per parent (wiring order). */
  get droppedByParent(): readonly number[] {
    return this.#dropped;
  }

  canAccept(parentIndex: number, envelope: Envelope, capacity: number): boolean {
    if (envelope.kind === 'end') return true;
    // Kept messages have handed their room back.
    return this.#edge(parentIndex).canAccept(envelope.meta.ticket, capacity + (this.#kept[parentIndex]?.size ?? 0));
  }

  /**
   * Adds an envelope from parent `parentIndex`. `freshest`: when the edge then holds more than
   * `capacity` messages, the oldest go (a queue that drops stale data, never the new message); on
   * a join, those that can still be paired stay, up to {@link JOIN_WINDOW} (see {@link #holdForPartners}).
   */
  push(parentIndex: number, envelope: Envelope, capacity = Number.POSITIVE_INFINITY): void {
    const edge = this.#edge(parentIndex);
    const accepted = edge.push(envelope);
    if (accepted !== 'accepted') {
      // Refused: it never entered the buffer, but its room must still be handed back.
      if (accepted === 'stale') this.#dropped[parentIndex] = (this.#dropped[parentIndex] ?? 0) + 1;
      else this.#duplicates += 1;
      this.#onRelease?.(parentIndex, envelope, 'refused');
      return;
    }
    if (this.#toldDraining.size > 0) {
      // Nothing can be aligned any more: what comes is discarded as it arrives, whoever takes next.
      while (this.#discardHead(parentIndex));
      return;
    }
    if (this.#policy !== 'freshest') return;
    if (this.edges.length > 1) this.#holdForPartners(parentIndex, edge, capacity);
    else while (edge.size > capacity && this.#discardHead(parentIndex));
  }

  /**
   * A `freshest` join's edge over its capacity. What can no longer be paired goes first: anything
   * older than a complete set waiting (the next take would discard it), then the oldest messages
   * whose partner has left another edge (taken or discarded) or will never come (that edge ended).
   * The rest, which can still be paired, stays up to the window ({@link JOIN_WINDOW}, or the
   * capacity if larger; beyond it the oldest go, pairable or not). Every message held beyond the
   * capacity hands its room back at once (`kept`), the oldest first: as many rooms go back on
   * arrival as when the oldest were pushed out, so the window never holds a publisher back.
   */
  #holdForPartners(parentIndex: number, edge: EdgeBuffer, capacity: number): void {
    if (edge.size <= capacity) return;
    this.#discardOlderThanFreshestSet();
    for (let head = edge.peek(); edge.size > capacity && head !== undefined && !this.#pairable(parentIndex, head); head = edge.peek()) {
      this.#discardHead(parentIndex);
    }
    const window = Math.max(capacity, JOIN_WINDOW);
    while (edge.size > window && this.#discardHead(parentIndex));
    const kept = this.#kept[parentIndex] as Set<Envelope>;
    for (const envelope of edge.queued) {
      if (edge.size - kept.size <= capacity) return;
      if (kept.has(envelope)) continue;
      kept.add(envelope);
      this.#onRelease?.(parentIndex, envelope, 'kept');
    }
  }

  /** Whether `envelope` of parent `parentIndex` may still find its partner on every other edge. */
  #pairable(parentIndex: number, envelope: DataEnvelope): boolean {
    const { seq } = envelope.meta;
    return this.edges.every(
      (other, index) =>
        index === parentIndex ||
        (seq > (this.#released[index] as number) && !(other.allEndsReceived && !other.queued.some((queued) => queued.meta.seq === seq))),
    );
  }

  /**
   * Origins `seqs` are done (see {@link EdgeBuffer.markDone}): their copies queued on routed edges
   * are released as duplicates (refused: their room goes back), and later copies are refused.
   */
  markDone(seqs: readonly number[]): void {
    for (const [parentIndex, edge] of this.edges.entries()) {
      for (const seq of seqs) {
        const copy = edge.markDone(seq);
        if (copy === undefined) continue;
        this.#duplicates += 1;
        this.#onRelease?.(parentIndex, copy, 'refused');
      }
    }
  }

  /**
   * The next aligned input set, the end of the stream, or undefined when more input is needed. When
   * one parent has ended before the others, a `draining` end comes first (once), the final end when
   * every parent has ended.
   *
   * @param taker which of the node's tasks takes, where they share one aligner (in one process):
   *   each of them is given the `draining` end once
   */
  take(taker = 0): InputSet | undefined {
    if (this.#single !== undefined) return this.#takeSingle(this.#single);
    for (;;) {
      if (this.edges.some((edge) => edge.ended)) {
        // One parent is finished: nothing more can be aligned. Drain the others until they end,
        // and say so once at once (`draining`), so that the node's end need not wait for theirs.
        for (const parentIndex of this.edges.keys()) while (this.#discardHead(parentIndex));
        const finished = this.edges.every((edge) => edge.ended);
        if (!finished && this.#toldDraining.has(taker)) return undefined;
        const stopped = this.edges.some((edge) => edge.ended && edge.endReason === 'stopped');
        const reason = stopped ? 'stopped' : 'completed';
        if (finished) return { kind: 'end', reason };
        this.#toldDraining.add(taker);
        return { kind: 'end', reason, draining: true };
      }
      if (this.#policy === 'freshest') this.#discardOlderThanFreshestSet();
      const heads = this.edges.map((edge) => edge.peek());
      if (heads.some((head) => head === undefined)) return undefined;
      const present = heads as DataEnvelope[];
      const newest = Math.max(...present.map((head) => head.meta.seq));
      if (present.every((head) => head.meta.seq === newest)) {
        for (const parentIndex of this.edges.keys()) this.#shift(parentIndex);
        // With one parent, keep its ticket: the sender's dispatch order, shared by all replicas of
        // this node even when each replica aligns on its own (one process each). With several, the
        // origin: the same for every replica of a replicated join (batch: contiguous from 0).
        const ticket = present.length === 1 ? (present[0] as DataEnvelope).meta.ticket : newest;
        return {
          kind: 'data',
          seq: newest,
          ticket,
          values: present.map((head) => head.value),
          metas: present.map((head) => head.meta as MessageMetadata),
        };
      }
      // Routed by origin (batch): an edge's head is the oldest it will ever hold, and the older
      // seq on the other edges is still on its way (a lost replica's share, re-sent): wait for it.
      if (this.edges.some((edge) => edge.routed)) return undefined;
      for (const [index, head] of present.entries()) {
        if (head.meta.seq < newest) this.#discardHead(index);
      }
    }
  }

  /** {@link take} for one ordered parent: its next message, or its end. */
  #takeSingle(edge: EdgeBuffer): InputSet | undefined {
    const head = edge.shift();
    if (head === undefined) return edge.ended ? { kind: 'end', reason: edge.endReason } : undefined;
    this.#onRelease?.(0, head, 'taken');
    const meta = head.meta as MessageMetadata;
    return { kind: 'data', seq: meta.seq, ticket: meta.ticket, values: [head.value], metas: [meta] };
  }

  /**
   * `freshest`: when a complete input set newer than the heads is waiting (the same `seq` queued on
   * every edge), everything older goes, so the next set taken is the freshest one.
   */
  #discardOlderThanFreshestSet(): void {
    const [first, ...others] = this.edges;
    if (first === undefined) return;
    const queued = first.queued;
    for (let at = queued.length - 1; at > 0; at--) {
      const seq = (queued[at] as DataEnvelope).meta.seq;
      if (others.every((edge) => edge.queued.some((envelope) => envelope.meta.seq === seq))) {
        for (const [parentIndex, edge] of this.edges.entries()) {
          while ((edge.peek()?.meta.seq ?? seq) < seq) this.#discardHead(parentIndex);
        }
        return;
      }
    }
  }

  /** The next message from any parent, in parent order, unaligned (for `receiveRawMessage`). */
  takeRaw(): { parentIndex: number; envelope: Envelope } | undefined {
    for (const parentIndex of this.edges.keys()) {
      const head = this.#shift(parentIndex);
      if (head !== undefined) return { parentIndex, envelope: head };
    }
    const finished = this.edges.findIndex((edge) => edge.ended);
    if (finished >= 0 && this.edges.every((edge) => edge.ended)) {
      return { parentIndex: finished, envelope: { kind: 'end', reason: this.edges[finished]?.endReason ?? 'completed' } };
    }
    return undefined;
  }

  #edge(parentIndex: number): EdgeBuffer {
    const edge = this.edges[parentIndex];
    if (edge === undefined) throw new RangeError(`no parent ${parentIndex}`);
    return edge;
  }
}
