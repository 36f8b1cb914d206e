import type { EdgeFailures, JoinGroupCounts } from './engine.js';

/**
 * The `Messenger` port: how one task talks to the tasks around it. Engines implement it; the
 * task runtime of `@vf/core` is its only caller.
 */

/** Metadata that travels with every data message (what `metadata: true` consumers receive). */
export interface MessageMetadata {
  /** Origin index: the index of the producer item this message derives from. */
  readonly seq: number;
  /** Position in the publishing node's output order; restores order after replicated tasks. */
  readonly ticket: number;
  /** Name of the node that published the message. */
  readonly node: string;
  /** Task (replica) of that node that published it. */
  readonly taskIndex: number;
  /** Time the node spent computing this message, in ms. */
  readonly proctimeMs: number;
  /** Wall time since the same task's previous message, in ms (what the node actually sustains). */
  readonly actualProctimeMs: number;
  /** Epoch ms at which the producer emitted the origin item: end-to-end latency starts here. */
  readonly createdAt: number;
  /**
   * Event time in ms, stamped by the producer (`timestamped(value, ms)`); a processor passes on the
   * earliest of its inputs'. Absent: the item's event time is its `createdAt`. Time joins group by it.
   */
  readonly timestamp?: number;
}

/** Why a stream ended: its producers ran out, or the flow was stopped. */
export type EndReason = 'completed' | 'stopped';

/** The unit that travels on an edge: a data message or the end of the stream. */
export type Envelope =
  | { readonly kind: 'data'; readonly value: unknown; readonly meta: MessageMetadata }
  | {
      readonly kind: 'end';
      readonly reason: EndReason;
      /**
       * Set on an end that comes while other parents still send: a parent of an origin join has
       * ended, so the node can pair nothing more. Its end goes to its children now (a child that
       * waited for it would otherwise hold the longer parent back, and that parent this node); the
       * task keeps receiving, what comes is discarded, until an end without this flag.
       */
      readonly draining?: true;
    };

/** Messages discarded on one edge of the graph (`from` → `to`, by node name). */
export interface EdgeDrops {
  readonly from: string;
  readonly to: string;
  readonly count: number;
}

/** One envelope as received, with the index of the parent it came from. */
export interface RawMessage {
  readonly parentIndex: number;
  readonly envelope: Envelope;
}

/** Aligned inputs for one step of a task: one value (and metadata) per parent, same origin. */
export type InputSet =
  | {
      readonly kind: 'data';
      readonly seq: number;
      /** Position of this set in the node's input order (shared by all its replicas). */
      readonly ticket: number;
      /** One per parent; `undefined` for a parent missing from a partial time-join group. */
      readonly values: readonly unknown[];
      readonly metas: readonly (MessageMetadata | undefined)[];
    }
  | {
      readonly kind: 'end';
      readonly reason: EndReason;
      /**
       * Set on an end that comes while other parents still send: a parent of an origin join has
       * ended, so the node can pair nothing more. Its end goes to its children now (a child that
       * waited for it would otherwise hold the longer parent back, and that parent this node); the
       * task keeps receiving, what comes is discarded, until an end without this flag.
       */
      readonly draining?: true;
    };

/**
 * One task's view of the flow (the seed's `Messenger`). Publishing sends to every child;
 * receiving returns inputs aligned by origin. Termination is never dropped by any engine.
 */
export interface Messenger {
  /**
   * Sends a data message to every child. May block (batch) or drop stale data (realtime). May
   * return nothing when the message left at once: a promise only where the caller must wait, so
   * that a message sent at once costs the task loop no promise.
   */
  publishMessage(value: unknown, meta?: MessageMetadata): Promise<void> | undefined;
  /** Sends the end of the stream to every child. Never dropped; may wait until it can be delivered. */
  publishTerminationMessage(reason?: EndReason, meta?: MessageMetadata): Promise<void>;
  /** Forwards the last received message unchanged to every child (for nodes without output). */
  passthroughMessage(): Promise<void>;
  /** Forwards the end of the stream to every child; never dropped. */
  passthroughTerminationMessage(): Promise<void>;
  /** Waits for the next set of inputs aligned by origin, or the end of the stream. */
  receiveMessage(): Promise<InputSet>;
  /**
   * Optional: the next set of inputs, or the end, when one can be taken without waiting; else
   * undefined, and `receiveMessage()` waits for it. Lets the task loop take an input ready already
   * without a promise. Errors that `receiveMessage()` would throw are left to it.
   */
  tryReceiveMessage?(): InputSet | undefined;
  /** Waits for the next envelope from any parent, unaligned. */
  receiveRawMessage(): Promise<RawMessage>;
  /** True once the flow has been asked to stop. Producers check it between items. */
  checkForTermination(): boolean;
  /**
   * Messages discarded so far, per edge: inputs this task discarded (stale, or impossible to align;
   * edges into its node) and, for engines that drop at the publisher (realtime), messages it never
   * sent (edges out of its node).
   */
  drops(): readonly EdgeDrops[];
  /**
   * Optional: messages refused so far, unread, from peers that did not prove they belong to the run
   * (see `TaskStats.rejected`). Messengers whose data path no stranger can reach omit it.
   */
  rejected?(): number;
  /**
   * Optional: true for engines whose contract favours freshness (realtime). A node whose
   * `onError` drops items drops a failing item at once, never retries it, and publishes no marker
   * in its place (nothing downstream waits for a missing origin). Absent: false.
   */
  readonly dropsFailedItems?: boolean;
  /** Optional: for a node with a time join, what became of its groups so far (see `TaskStats.joins`). */
  joinGroups?(): JoinGroupCounts | undefined;
  /**
   * Optional: per edge into the node, origins absent because a node upstream gave up on them, whose
   * markers the messenger consumed itself (a time join takes one as its parent's absence from the
   * group) rather than handing them to the task loop, which counts the others.
   */
  skipped?(): readonly EdgeFailures[];
}
