import type { EndReason, Envelope, InputSet, MessageMetadata } from '../contracts/messenger.js';

type DataEnvelope = Extract<Envelope, { kind: 'data' }>;

/**
 * The messages of one edge (parent → node), in the parent's output order. When the parent runs
 * as several replicas their outputs arrive out of order; they are released by `ticket`, so the
 * node sees them in the order the parent received its inputs.
 */
export class EdgeBuffer {
  readonly #replicas: number;
  readonly #fifo: DataEnvelope[] = [];
  readonly #byTicket = new Map<number, DataEnvelope>();
  #nextTicket = 0;
  #ends = 0;
  #reason: EndReason = 'completed';

  constructor(replicas: number) {
    this.#replicas = replicas;
  }

  get size(): number {
    return this.#replicas === 1 ? this.#fifo.length : this.#byTicket.size;
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
    return this.size < capacity || (this.#replicas > 1 && ticket === this.#nextTicket);
  }

  push(envelope: Envelope): void {
    if (envelope.kind === 'end') {
      this.#ends += 1;
      if (envelope.reason === 'stopped') this.#reason = 'stopped';
      return;
    }
    if (this.#replicas === 1) this.#fifo.push(envelope);
    else this.#byTicket.set(envelope.meta.ticket, envelope);
  }

  /** The next message in order, if it has arrived. */
  peek(): DataEnvelope | undefined {
    if (this.#replicas === 1) return this.#fifo[0];
    const next = this.#byTicket.get(this.#nextTicket);
    if (next !== undefined || !this.allEndsReceived || this.#byTicket.size === 0) return next;
    // Every replica has ended, so a missing ticket will never come: skip the gap.
    this.#nextTicket = Math.min(...this.#byTicket.keys());
    return this.#byTicket.get(this.#nextTicket);
  }

  shift(): DataEnvelope | undefined {
    const head = this.peek();
    if (head === undefined) return undefined;
    if (this.#replicas === 1) this.#fifo.shift();
    else {
      this.#byTicket.delete(this.#nextTicket);
      this.#nextTicket += 1;
    }
    return head;
  }
}

/**
 * Aligns a node's inputs by origin: the k-th input set holds, from every parent, the message
 * derived from the same producer item (same `seq`). Messages that can no longer be matched (older
 * than a message another parent already delivered, or arriving after another parent ended) are
 * discarded and counted in {@link dropped}. Pure and synchronous: engines add the waiting.
 */
export class InputAligner {
  readonly edges: readonly EdgeBuffer[];
  #dropped = 0;
  #nextTicket = 0;

  /** @param parentReplicas number of tasks of each parent, in wiring order */
  readonly #onRelease: ((parentIndex: number, envelope: Envelope) => void) | undefined;

  /**
   * @param parentReplicas number of tasks of each parent, in wiring order
   * @param onRelease called for every message that leaves the buffers (used or discarded), so a
   *   transport can hand back the room it took (credits)
   */
  constructor(parentReplicas: readonly number[], onRelease?: (parentIndex: number, envelope: Envelope) => void) {
    this.edges = parentReplicas.map((replicas) => new EdgeBuffer(replicas));
    this.#onRelease = onRelease;
  }

  #shift(parentIndex: number): Envelope | undefined {
    const envelope = this.edges[parentIndex]?.shift();
    if (envelope !== undefined) this.#onRelease?.(parentIndex, envelope);
    return envelope;
  }

  get dropped(): number {
    return this.#dropped;
  }

  canAccept(parentIndex: number, envelope: Envelope, capacity: number): boolean {
    if (envelope.kind === 'end') return true;
    return this.#edge(parentIndex).canAccept(envelope.meta.ticket, capacity);
  }

  push(parentIndex: number, envelope: Envelope): void {
    this.#edge(parentIndex).push(envelope);
  }

  /** The next aligned input set, the end of the stream, or undefined when more input is needed. */
  take(): InputSet | undefined {
    for (;;) {
      if (this.edges.some((edge) => edge.ended)) {
        // One parent is finished: nothing more can be aligned. Drain the others until they end.
        for (const parentIndex of this.edges.keys()) {
          while (this.#shift(parentIndex) !== undefined) this.#dropped += 1;
        }
        if (!this.edges.every((edge) => edge.ended)) return undefined;
        const stopped = this.edges.some((edge) => edge.endReason === 'stopped');
        return { kind: 'end', reason: stopped ? 'stopped' : 'completed' };
      }
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
        if (head.meta.seq < newest) {
          this.#shift(index);
          this.#dropped += 1;
        }
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
