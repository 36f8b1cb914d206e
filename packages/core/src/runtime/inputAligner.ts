import type { EndReason, Envelope, InputSet, MessageMetadata } from '../contracts/messenger.js';

type DataEnvelope = Extract<Envelope, { kind: 'data' }>;

/**
 * How a node's inputs are released. `ordered` (batch): every message, in the parent's output
 * order, waiting for a slow replica's output. `freshest` (realtime): never wait for a gap (a
 * message dropped upstream never comes); a message older than one already released is discarded;
 * each step takes the freshest complete input set and discards the older ones.
 */
export type AlignmentPolicy = 'ordered' | 'freshest';

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
  #nextTicket = 0;
  #ends = 0;
  #reason: EndReason = 'completed';

  constructor(replicas: number, policy: AlignmentPolicy = 'ordered') {
    this.#replicas = replicas;
    this.#policy = policy;
  }

  get #keyedByTicket(): boolean {
    return this.#replicas > 1 && this.#policy === 'ordered';
  }

  get size(): number {
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
    if (this.#keyedByTicket) {
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
  #nextTicket = 0;
  readonly #onRelease: ((parentIndex: number, envelope: Envelope) => void) | undefined;

  /**
   * @param parentReplicas number of tasks of each parent, in wiring order
   * @param onRelease called for every message that leaves the buffers (used or discarded), so a
   *   transport can hand back the room it took (credits)
   * @param policy `ordered` (batch, default) or `freshest` (realtime), see {@link AlignmentPolicy}
   */
  constructor(
    parentReplicas: readonly number[],
    onRelease?: (parentIndex: number, envelope: Envelope) => void,
    policy: AlignmentPolicy = 'ordered',
  ) {
    this.edges = parentReplicas.map((replicas) => new EdgeBuffer(replicas, policy));
    this.#dropped = parentReplicas.map(() => 0);
    this.#onRelease = onRelease;
    this.#policy = policy;
  }

  #shift(parentIndex: number): Envelope | undefined {
    const envelope = this.edges[parentIndex]?.shift();
    if (envelope !== undefined) this.#onRelease?.(parentIndex, envelope);
    return envelope;
  }

  #discardHead(parentIndex: number): boolean {
    if (this.#shift(parentIndex) === undefined) return false;
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
    return this.#edge(parentIndex).canAccept(envelope.meta.ticket, capacity);
  }

  /**
   * Adds an envelope from parent `parentIndex`. `freshest`: when the edge then holds more than
   * `capacity` messages, the oldest go (a queue that drops stale data, never the new message).
   */
  push(parentIndex: number, envelope: Envelope, capacity = Number.POSITIVE_INFINITY): void {
    const edge = this.#edge(parentIndex);
    const accepted = edge.push(envelope);
    if (accepted !== 'accepted') {
      // Refused: it never entered the buffer, but its room must still be handed back.
      if (accepted === 'stale') this.#dropped[parentIndex] = (this.#dropped[parentIndex] ?? 0) + 1;
      else this.#duplicates += 1;
      this.#onRelease?.(parentIndex, envelope);
      return;
    }
    if (this.#policy === 'freshest') while (edge.size > capacity && this.#discardHead(parentIndex));
  }

  /** The next aligned input set, the end of the stream, or undefined when more input is needed. */
  take(): InputSet | undefined {
    for (;;) {
      if (this.edges.some((edge) => edge.ended)) {
        // One parent is finished: nothing more can be aligned. Drain the others until they end.
        for (const parentIndex of this.edges.keys()) while (this.#discardHead(parentIndex));
        if (!this.edges.every((edge) => edge.ended)) return undefined;
        const stopped = this.edges.some((edge) => edge.endReason === 'stopped');
        return { kind: 'end', reason: stopped ? 'stopped' : 'completed' };
      }
      if (this.#policy === 'freshest') this.#discardOlderThanFreshestSet();
      const heads = this.edges.map((edge) => edge.peek());
      if (heads.some((head) => head === undefined)) return undefined;
      const present = heads as DataEnvelope[];
      const newest = Math.max(...present.map((head) => head.meta.seq));
      if (present.every((head) => head.meta.seq === newest)) {
        for (const parentIndex of this.edges.keys()) this.#shift(parentIndex);
        // With one parent, keep its ticket: the sender's dispatch order, shared by all replicas of
        // this node even when each replica aligns on its own (one process each).
        const ticket = present.length === 1 ? (present[0] as DataEnvelope).meta.ticket : this.#nextTicket;
        this.#nextTicket = ticket + 1;
        return {
          kind: 'data',
          seq: newest,
          ticket,
          values: present.map((head) => head.value),
          metas: present.map((head) => head.meta as MessageMetadata),
        };
      }
      for (const [index, head] of present.entries()) {
        if (head.meta.seq < newest) this.#discardHead(index);
      }
    }
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
