import { existsSync } from 'node:fs';
import type * as Zmq from 'zeromq';
import type { EdgeFailures, JoinGroupCounts } from '../contracts/engine.js';
import type { EdgeDrops, EndReason, Envelope, InputSet, MessageMetadata, RawMessage } from '../contracts/messenger.js';
import type { PlannedNode } from '../plan/executionPlan.js';
import type { TaskInit } from '../runtime/controlProtocol.js';
import { type AlignmentPolicy, type ReleaseKind, routeBySeq, type SeqRoute } from '../runtime/inputAligner.js';
import { MessengerBase, messageMetadata } from '../runtime/messengerBase.js';
import type { QueueWait } from '../runtime/queueDeadlock.js';
import { createNodeAligner, type NodeAligner, skippedEdges, timeJoinAlignerOptions } from '../runtime/timeAligner.js';
import { AbortedError, Mutex, Notifier } from '../runtime/waiting.js';
import { zmqMessages } from '../wire/batchFrame.js';
import { encodeValue, packHeader, WireError } from '../wire/codec.js';
import { packDataHeader } from '../wire/dataHeader.js';
import { DONE_SEQS_MAX, parseEnvelope, parseFeedback, type WireEnvelope } from '../wire/envelope.js';
import { MAX_TCP_FRAME_BYTES, splitLargeFrames } from '../wire/frameChunks.js';
import { curveClientOptions, curveServerOptions, startZapHandler, type ZapHandler } from './curve.js';
import { generateChallengeSalt, helloChallenge, helloProof, verifyHelloProof } from './helloProof.js';
import { BellListener, BellRinger, bellPath, RING_BELL_ENV } from './ringBell.js';
import { SharedFrameReader, SharedFrameSender } from './sharedFrames.js';
import { type NativeRing, nativeRings, RingReader, RingWriter, ringPath } from './sharedRing.js';
import { zeromq } from './zeromq.js';

/**
 * The data path over ZeroMQ: each task binds a ROUTER; each parent task connects a DEALER per child
 * task. Envelopes (hello, data, end; credit and ack back) are defined in `wire/envelope.ts`.
 * Envelopes queued while a send is in flight, or released together by credit ({@link ReplicaLink.corked}),
 * leave together, small ones packed into one batch frame of one ZeroMQ message, each large one in a
 * message of its own (`wire/batchFrame.ts`, `zmqMessages`): small messages are batched under load at
 * no latency cost when idle, and a receiver takes each large one as it lands.
 * Credits make every queue bounded and exact: a publisher sends only with credit, so the
 * receiver's buffer never exceeds `queueSize` per sender. What a publisher does without credit is
 * the engine's queue policy ({@link ZmqMessenger.deliver}).
 */

/** A data message as sent: its origin (for routing and re-sending) and its frames. */
export interface SentMessage {
  readonly seq: number;
  readonly frames: Buffer[];
}

/**
 * Whether the tasks feeding node `nodeIndex` route each message to one of its replicas by origin
 * (`seq`, see {@link routeBySeq}) instead of to whichever replica has room. They must when the node
 * runs as several tasks and has several senders — several parents (a join: each origin's inputs must
 * meet at one replica) or a replicated parent — so that each replica knows which origins it gets
 * and can take them in order. A replicated node with a single one-task sender is fed by room
 * (dynamic load balancing); its sender keeps the order by construction.
 */
export function routesBySeq(nodes: readonly PlannedNode[], nodeIndex: number): boolean {
  const node = nodes[nodeIndex];
  if (node === undefined || node.nbTasks < 2) return false;
  return node.parents.length > 1 || node.parents.some((parent) => (nodes[parent]?.nbTasks ?? 1) > 1);
}

/**
 * How many confirmed origins a sender remembers per replica of a replicated join (0 for any other
 * child): the parts that other senders still hold of sets the replica confirmed to this one are at
 * most their unconfirmed messages, `queueSize` per sender task plus what earlier losses re-sent
 * beyond room (`queueSize` per lost replica), hence queue size × the join's parent tasks × its tasks.
 */
function recentlyConfirmedLimit(nodes: readonly PlannedNode[], childIndex: number, queueSize: number): number {
  const child = nodes[childIndex];
  if (child === undefined || child.parents.length < 2 || !routesBySeq(nodes, childIndex)) return 0;
  const parentTasks = child.parents.reduce((total, parent) => total + (nodes[parent]?.nbTasks ?? 1), 0);
  return Math.min(DONE_SEQS_MAX, queueSize * parentTasks * child.nbTasks);
}

/** `['w']`: entries wait in the ring of a receiver that said it sleeps (where its bell could not be opened). */
const DOORBELL_FRAME = packHeader(['w']);
/** `['r']`: the envelopes after this one are in the ring again. */
const TO_RING_FRAME = packHeader(['r']);
/** Feedback `['r']`: the receiver mapped the sender's ring. */
const RING_MAPPED_FRAME = packHeader(['r']);
/** Feedback `['w']`: room came back through the ring's counter, and the sender said it waits for it (where its bell could not be opened). */
const WAKE_FRAME = packHeader(['w']);
/** The aligned take (one closure for every take). */
const takeAligned = (aligner: NodeAligner): InputSet | undefined => aligner.take();

/**
 * A parent task's ring, as its receiver reads it. The stream goes on in the ring until its marker
 * sends the reader to ZeroMQ, where it goes on until an `r`: envelopes that came on ZeroMQ while
 * the reader was still in the ring wait in `backlog`, in order.
 */
interface RingInbox {
  readonly reader: RingReader;
  readonly sender: { taskId: number; parentIndex: number };
  /** The sender's bell, to wake it when it waits for room (`ringBell.ts`); else feedback `['w']`. */
  readonly senderBell: BellRinger | undefined;
  mode: 'ring' | 'zmq';
  readonly backlog: WireEnvelope[];
  /** Room released since the sender was last woken: it is woken for a batch of it, or when this task waits. */
  unannounced: number;
}

/** One task of a child node, seen from the publisher: its socket and the credit it granted. */
export class ReplicaLink {
  credit = 0;
  endAcknowledged = false;
  /** Died; the flow goes on without it (`restartOnFailure`). */
  lost = false;
  /** Messages the replica has handed back room for since its first grant, i.e. released downstream. */
  released = 0;
  /**
   * Messages the replica said have arrived (`k`): a time join under `restartOnFailure` holds what
   * it receives, and its room, until the message's group closes, which may take the end of this
   * node's stream; the message is safe there (a time join runs as one task, whose loss fails the
   * flow), so this node confirms its own inputs upstream on arrival. Waiting for the release hung
   * the flow: the parent upstream ends only once its messages are confirmed.
   */
  arrived = 0;
  readonly socket: Zmq.Dealer;
  readonly taskId: number;
  /**
   * `restartOnFailure`: messages sent and not yet released, oldest first. The receiver hands room
   * back in the order it got them, so each credit confirms the oldest; these are what a death re-sends.
   */
  readonly unconfirmed: SentMessage[] | undefined;
  /**
   * To a replicated join under `restartOnFailure`: the origins of the last messages the replica
   * confirmed, oldest first. A replica confirms an input set to each of its senders in turn, so one
   * that dies in between leaves some senders holding their part of a set whose output it had
   * released: re-sent, those parts would wait forever at a survivor for the parts no sender holds
   * any more. When it dies, its senders tell the survivors which origins it confirmed ({@link ChildLink.announceDone}).
   */
  readonly recentlyConfirmed: number[] | undefined;
  readonly #recentLimit: number;
  /** Envelopes (each its frames) queued to leave, in order. */
  #outbox: Buffer[][] = [];
  #sending = false;
  #failure: Error | undefined;
  /**
   * The replica admitted this task (its proof checked, room granted). Until then only the handshake
   * leaves: anything else (an end, which needs no credit) would arrive from an unproven peer, unread.
   */
  #admitted = false;
  #held: Buffer[][] = [];
  /** While above zero ({@link corked}), enqueued frames wait: a burst leaves together (see {@link corked}). */
  #corks = 0;
  /** The shared ring to the replica, when it is on this host (`sharedRing.ts`); used once the replica said it maps it. */
  #ring: RingWriter | undefined;
  #ringMapped = false;
  /** The ring's `released` count as last taken into {@link credit}. */
  #ringReleased = 0;
  /** After the ring's marker that says so, envelopes go on ZeroMQ, until the next `r`. */
  #viaZmq = false;
  /** The replica's bell (`ringBell.ts`), rung once a burst is written; else a doorbell on ZeroMQ. */
  #bell: BellRinger | undefined;
  #bellDue = false;
  /** This task asked the replica to wake it for room ({@link askRingForCredit}), and has not been woken since. */
  #askedForRoom = false;

  /** The replica admitted this task: what it publishes leaves at once (no handshake in the way). */
  get admitted(): boolean {
    return this.#admitted;
  }
  /**
   * How data messages leave for this replica when not as they are: large frames through shared
   * memory to a replica on this host (`sharedFrames.ts`), or split into chunks over tcp (`frameChunks.ts`).
   */
  prepareData: ((frames: readonly Buffer[]) => readonly Buffer[]) | undefined;

  /** `recentLimit`: how many confirmed origins {@link recentlyConfirmed} keeps (0: none; it needs `keepsUnconfirmed`). */
  constructor(socket: Zmq.Dealer, taskId: number, keepsUnconfirmed = false, recentLimit = 0) {
    this.socket = socket;
    this.taskId = taskId;
    this.unconfirmed = keepsUnconfirmed ? [] : undefined;
    this.recentlyConfirmed = keepsUnconfirmed && recentLimit > 0 ? [] : undefined;
    this.#recentLimit = recentLimit;
  }

  /** Gives this link a shared ring to its replica; envelopes use it once the replica says it maps it ({@link ringMapped}). */
  useRing(ring: RingWriter): void {
    this.#ring = ring;
  }

  /** The replica mapped the ring: what it is sent from now on goes there, and `bell` (if any) wakes it. */
  ringMapped(bell: BellRinger | undefined): void {
    if (this.#ring === undefined) {
      bell?.close();
      return;
    }
    this.#ringMapped = true;
    this.#bell = bell;
  }

  /** Takes the room the replica released through the ring's counter since last time; true when there was some. */
  collectRingCredit(): boolean {
    return this.#ring !== undefined && this.#ringMapped && this.#takeReleased(this.#ring.released());
  }

  /**
   * Says this task waits for room (the replica's next release through the ring wakes it, feedback
   * `w`) and takes what it released meanwhile, in one step; true when there was some.
   */
  askRingForCredit(): boolean {
    if (this.#ring === undefined || !this.#ringMapped) return false;
    this.#askedForRoom = true;
    return this.#takeReleased(this.#ring.waitForRoom());
  }

  /**
   * This task's bell rang: if this replica is what woke it (it cleared the flag this task asked it
   * to), takes the room it handed back; when there is none (taken meanwhile), asks again, as this
   * task may still be waiting. True when room came.
   */
  answerWake(): boolean {
    if (!this.#askedForRoom || this.#ring === undefined || this.#ring.senderWaits()) return false;
    this.#askedForRoom = false;
    return this.collectRingCredit() || this.askRingForCredit();
  }

  /**
   * The room the replica has left this task, as this task counts it: its credit, plus what the replica
   * handed back through the ring and this task has not taken yet (it takes room only when it needs it).
   */
  roomLeft(): number {
    const ring = this.#ring;
    if (ring === undefined || !this.#ringMapped) return this.credit;
    return this.credit + this.#releasedSinceTaken(ring.released());
  }

  /** Room the ring's counter says was handed back since this task last took it (the counter wraps at 2³¹). */
  #releasedSinceTaken(released: number): number {
    return (released - this.#ringReleased) & 0x7fffffff;
  }

  #takeReleased(released: number): boolean {
    const count = this.#releasedSinceTaken(released);
    if (count === 0) return false;
    this.#ringReleased = released;
    this.addCredit(count, true);
    return true;
  }

  /** Removes the ring's file, if any (the replica has mapped it, or never will); `label` names this task in its statistics. */
  closeRing(label: string): void {
    this.#ring?.close(`${label}>${this.taskId}`);
    this.#ring = undefined;
    this.#bell?.close();
    this.#bell = undefined;
  }

  /** Room from the replica: granted, or handed back for `count` released messages (which confirms the oldest sent). */
  addCredit(count: number, released: boolean): void {
    this.credit += count;
    if (!this.#admitted) {
      this.#admitted = true;
      const held = this.#held.splice(0);
      this.corked(() => {
        for (const envelope of held) this.enqueue(envelope);
      });
    }
    if (!released) return;
    this.released += count;
    const confirmed = this.unconfirmed?.splice(0, count);
    const recent = this.recentlyConfirmed;
    if (confirmed === undefined || recent === undefined) return;
    for (const message of confirmed) recent.push(message.seq);
    // Trimmed in bulk, when twice the limit: one copy per limit's worth of confirmations.
    if (recent.length >= 2 * this.#recentLimit) recent.splice(0, recent.length - this.#recentLimit);
  }

  /** Queues a data message's frames (see {@link enqueue}), prepared for this replica's link ({@link prepareData}). */
  enqueueData(frames: readonly Buffer[]): void {
    this.enqueue(this.prepareData === undefined ? frames : this.prepareData(frames));
  }

  /**
   * Queues an envelope's frames; they leave in order, batched with whatever else queued while the
   * previous send was in flight. Bounded by credits (data) and by one end per stream.
   * Before the replica admitted this task, only `handshake` frames leave; the rest wait.
   */
  enqueue(frames: readonly Buffer[], handshake = false): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (!this.#admitted && !handshake) {
      this.#held.push([...frames]);
      return;
    }
    if (handshake || !this.#ringMapped || !this.#toRing(frames)) this.#outbox.push([...frames]);
    // Leave now, not at the end of the event-loop turn: a node that computes synchronously may not
    // yield for a long time (or ever), and its outputs must not wait for it.
    if (this.#corks === 0) this.#flush();
  }

  /** Rings the replica's bell if entries written since woke it, and starts sending what waits for ZeroMQ. */
  #flush(): void {
    if (this.#bellDue) {
      this.#bellDue = false;
      this.#bell?.ring();
    }
    if (!this.#sending && this.#outbox.length > 0) void this.#drain();
  }

  /**
   * Writes an envelope into the ring, and queues a doorbell if the replica sleeps; false when it must
   * go on ZeroMQ instead (too large, or the ring is full: the marker that says so is then written).
   * Back from ZeroMQ, an `r` there says where the stream goes on.
   */
  #toRing(frames: readonly Buffer[]): boolean {
    const ring = this.#ring as RingWriter;
    if (this.#viaZmq) {
      if (!ring.fits(frames)) {
        ring.stats.viaZmq += 1;
        return false;
      }
      this.#viaZmq = false;
      this.#outbox.push([TO_RING_FRAME]);
    }
    const written = ring.write(frames);
    if (written === 'no room') {
      ring.writeToZmq();
      ring.stats.viaZmq += 1;
      this.#viaZmq = true;
      return false;
    }
    if (written === 'written, ring the doorbell') {
      if (this.#bell === undefined) this.#outbox.push([DOORBELL_FRAME]);
      else this.#bellDue = true;
    }
    return true;
  }

  /**
   * Runs `burst` (synchronous code that enqueues several envelopes at once, such as messages
   * released together by credit) and then sends all it enqueued together: its small envelopes in one
   * ZeroMQ message, each large one in its own (`zmqMessages`): one send and one wake-up of each side
   * instead of one per envelope. Nothing waits past `burst`'s return.
   */
  corked(burst: () => void): void {
    this.cork();
    try {
      burst();
    } finally {
      this.uncork();
    }
  }

  /** Holds what is enqueued until the matching {@link uncork}; see {@link corked}. */
  cork(): void {
    this.#corks += 1;
  }

  /** Ends a {@link cork}: the last one sends what waits. */
  uncork(): void {
    this.#corks -= 1;
    if (this.#corks === 0) this.#flush();
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#outbox.length > 0) {
        const envelopes = this.#outbox;
        this.#outbox = [];
        for (const message of zmqMessages(envelopes)) await this.socket.send(message);
      }
    } catch (error) {
      this.#failure = error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#sending = false;
    }
  }
}

/** Every task of one child node: a message goes to exactly one of them. */
export class ChildLink {
  readonly replicas: readonly ReplicaLink[];
  readonly nodeName: string;
  readonly creditArrived = new Notifier();
  /** `room`: any replica with credit takes the next message. `seq`: its origin picks the replica ({@link routesBySeq}). */
  readonly routing: 'room' | 'seq';
  #next = 0;

  constructor(nodeName: string, replicas: readonly ReplicaLink[], routing: 'room' | 'seq' = 'room') {
    this.nodeName = nodeName;
    this.replicas = replicas;
    this.routing = replicas.length > 1 ? routing : 'room';
  }

  /** The replica that must get origin `seq` (`seq` routing), whether or not it has credit now. */
  replicaFor(seq: number): ReplicaLink | undefined {
    const index = routeBySeq(seq, this.replicas.length, (candidate) => this.replicas[candidate]?.lost ?? true);
    return index === undefined ? undefined : this.replicas[index];
  }

  /** Where the message of origin `seq` goes now: a replica with credit, or undefined (wait or keep it). */
  pick(seq: number): ReplicaLink | undefined {
    if (this.routing === 'room') return this.pickReplica();
    const replica = this.replicaFor(seq);
    return replica !== undefined && replica.credit > 0 ? replica : undefined;
  }

  /** Runs `burst` with every replica {@link ReplicaLink.corked}: what it sends each leaves together. */
  corked(burst: () => void): void {
    // No closure per call: this runs whenever room comes back, and the task program keeps function
    // names (esbuild's `keepNames`), which costs a named closure an `Object.defineProperty` each time.
    for (const replica of this.replicas) replica.cork();
    try {
      burst();
    } finally {
      for (const replica of this.replicas) replica.uncork();
    }
  }

  /**
   * Tells the survivors which origins `lost` confirmed last ({@link ReplicaLink.recentlyConfirmed}):
   * their outputs were released downstream, so the parts of them other parents re-send are not needed.
   */
  announceDone(lost: ReplicaLink): void {
    const seqs = lost.recentlyConfirmed?.splice(0) ?? [];
    if (seqs.length === 0) return;
    const frame = packHeader(['f', seqs.slice(-DONE_SEQS_MAX)]);
    for (const replica of this.replicas) if (!replica.lost) replica.enqueue([frame]);
  }

  /**
   * Where the message of origin `seq` goes when room is lent to it (a deadlock of bounded queues,
   * `runtime/queueDeadlock.ts`): its origin's replica, else the one with the most room left.
   */
  replicaToLend(seq: number): ReplicaLink | undefined {
    if (this.routing === 'seq') return this.replicaFor(seq);
    let best: ReplicaLink | undefined;
    for (const replica of this.replicas) if (!replica.lost && (best === undefined || replica.credit > best.credit)) best = replica;
    return best;
  }

  /** A replica with credit, taken round-robin so that free replicas share the work; else undefined. */
  pickReplica(): ReplicaLink | undefined {
    for (let tried = 0; tried < this.replicas.length; tried++) {
      const replica = this.replicas[(this.#next + tried) % this.replicas.length] as ReplicaLink;
      if (replica.credit > 0 && !replica.lost) {
        this.#next = (this.#next + tried + 1) % this.replicas.length;
        return replica;
      }
    }
    return undefined;
  }

  /**
   * Messages this node holds safe, all its tasks together: released, or held where they arrived
   * ({@link ReplicaLink.arrived}; a message is released only after it arrived).
   */
  get confirmed(): number {
    return this.replicas.reduce((total, replica) => total + Math.max(replica.released, replica.arrived), 0);
  }

  /** Every message sent has been released downstream, lost replicas' included (`restartOnFailure`). */
  get allConfirmed(): boolean {
    return this.replicas.every((replica) => replica.lost || (replica.unconfirmed?.length ?? 0) === 0);
  }

  /**
   * Gives a lost replica's unconfirmed messages to the survivors, round-robin, without waiting for
   * credit: the survivors' room may be held by outputs that wait downstream for exactly these
   * (order is restored by ticket), so waiting could deadlock. The debt (negative credit) is repaid
   * as they are released; the overshoot is bounded by `queueSize` per lost replica.
   * Returns false when no replica is left to take them.
   */
  resendFrom(lost: ReplicaLink): boolean {
    const survivors = this.replicas.filter((replica) => !replica.lost);
    const orphans = lost.unconfirmed?.splice(0) ?? [];
    if (survivors.length === 0) return orphans.length === 0;
    for (const [index, message] of orphans.entries()) {
      const replica = (this.routing === 'seq' ? this.replicaFor(message.seq) : survivors[index % survivors.length]) as ReplicaLink;
      replica.credit -= 1;
      replica.unconfirmed?.push(message);
      replica.enqueueData(message.frames);
    }
    return true;
  }
}

/**
 * A data envelope as received: it remembers its sender task, whose room it holds until released.
 * (A property, not a WeakMap beside it: a WeakMap entry per message cost its write barriers and
 * every scavenge's ephemeron pass, ~6 % of a relaying task's CPU on small messages under perf.)
 */
type ReceivedData = Extract<Envelope, { kind: 'data' }> & { readonly senderTaskId: number };

/**
 * A task's messenger over ZeroMQ, shared by the multi-process engines. Receiving (alignment,
 * reordering after replicas, credits) is the same for every engine; publishing without credit is
 * the engine's policy: subclasses implement {@link deliver}.
 */
export abstract class ZmqMessenger extends MessengerBase {
  protected readonly init: TaskInit;
  protected readonly signal: AbortSignal;
  protected readonly children: ChildLink[] = [];
  readonly #inbound: Zmq.Router | undefined;
  readonly #aligner: NodeAligner | undefined;
  readonly #received = new Notifier();
  readonly #creditSends = new Mutex();
  readonly #senders = new Map<string, { taskId: number; parentIndex: number }>();
  readonly #pendingCredit = new Map<number, number>();
  /** A time join under `restartOnFailure`: per sender task, arrivals not yet told (`k`, see {@link ReplicaLink.arrived}). */
  readonly #pendingArrivals: Map<number, number> | undefined;
  /** Per sender task: the room it has left as this task sees it (granted, less the data received since). */
  readonly #senderRoom = new Map<number, number>();
  readonly #routingIds = new Map<number, Buffer>();
  readonly #creditBatch: number;
  readonly #alignment: AlignmentPolicy;
  readonly #unsent = new Map<string, number>();
  readonly #isStopRequested: () => boolean;
  /** The child whose room a publish of this task waits for now (see {@link queueWait}). */
  #waitingForRoom: ChildLink | undefined;
  /** This task's loop waits for input now. */
  #waitingForInput = false;
  /** This task waits for its children to confirm what it sent, or to take its end of stream. */
  #waitingForChildren = false;
  /** Envelopes sent and received, inputs taken: when it changes, this task moved (see {@link queueWait}). */
  #moved = 0;
  /** Per inbound socket: mixed into the challenges, so that they differ from every other socket's. */
  readonly #challengeSalt = generateChallengeSalt();
  /** Messages refused unread from connections that did not prove they are tasks of this run. */
  #rejected = 0;
  /** Parent tasks whose stream has ended (their end arrived, or they were lost). */
  readonly #endedSenders = new Set<number>();
  /**
   * `restartOnFailure` on a replicated node: the room an input takes goes back to its sender only
   * once the output made from it has been released by every child, so the sender can re-send
   * whatever a dead replica had not finished.
   */
  readonly #confirmsOutputs: boolean;
  /** With {@link #confirmsOutputs}: the sender task of each message of the input set being taken. */
  #takenFrom: number[] = [];
  /** With {@link #confirmsOutputs}: per input set taken and not yet confirmed, oldest first, its senders. */
  readonly #unconfirmedInputs: number[][] = [];
  #published = 0;
  #confirmed = 0;
  #fatal: Error | undefined;
  #loops: Promise<void>[] = [];
  #bound: Promise<string | undefined> | undefined;
  #zap: ZapHandler | undefined;
  /** Large frames to and from tasks on this host (`sharedFrames.ts`); undefined when the run does not use shared memory. */
  readonly #sharedSender: SharedFrameSender | undefined;
  readonly #sharedReader: SharedFrameReader | undefined;
  /** Per parent task on this host that writes to this task through a shared ring: its ring. */
  readonly #rings = new Map<number, RingInbox>();
  /** This task's bell (`ringBell.ts`): the tasks it shares rings with wake it through it. */
  readonly #bell: BellListener | undefined;

  /** @param alignment how inputs are released: `ordered` (batch) or `freshest` (realtime) */
  constructor(init: TaskInit, signal: AbortSignal, isStopRequested: () => boolean, alignment: AlignmentPolicy = 'ordered') {
    super(init.task);
    this.init = init;
    this.signal = signal;
    this.#isStopRequested = isStopRequested;
    this.#alignment = alignment;
    const sharedDirectory = init.sharedMemory?.directory;
    this.#sharedReader = sharedDirectory === undefined ? undefined : new SharedFrameReader(sharedDirectory);
    // Given the reader, the sender forwards a frame received mapped and sent on unwritten by linking it.
    this.#sharedSender =
      sharedDirectory === undefined
        ? undefined
        : new SharedFrameSender(sharedDirectory, { received: this.#sharedReader, taskId: init.task.id });
    this.#bell = this.#createBell();
    const node = init.nodes[init.task.nodeIndex];
    if (node === undefined) throw new RangeError(`task ${init.task.id} names no node`);
    // A replica fed by room: its credit is also where its sender sends the next item. Handed back in
    // batches, it dealt work out in chunks, and at the end some replicas held a chunk more than others
    // (E2: 32 items vs 28 of 240 at 8 replicas), so such a replica hands back each message's room at
    // once. Replicas fed by origin (`routesBySeq`) are not chosen by room: batches serve them.
    const routedBySeq = routesBySeq(init.nodes, init.task.nodeIndex);
    const fedByRoom = node.nbTasks > 1 && !routedBySeq;
    this.#creditBatch = fedByRoom ? 1 : Math.max(1, Math.floor(init.queueSize / 2));
    this.#confirmsOutputs = init.restartOnFailure && node.nbTasks > 1 && node.parents.length > 0;
    this.#pendingArrivals = init.restartOnFailure && node.join !== undefined ? new Map() : undefined;
    if (node.parents.length > 0) {
      this.#inbound = new (zeromq().Router)({
        linger: 0,
        ipv6: isIpv6Endpoint(init.transport.endpoints[init.task.id]),
        receiveHighWaterMark: 0,
        sendHighWaterMark: 0,
        ...frameBoundOptions(init.transport.endpoints[init.task.id]),
        ...curveServerOptions(init.transport.curve),
      });
      const route: SeqRoute | undefined = routedBySeq ? { replicas: node.nbTasks, index: init.task.taskIndex } : undefined;
      const parentReplicas = node.parents.map((parent) => init.nodes[parent]?.nbTasks ?? 1);
      this.#aligner = createNodeAligner(parentReplicas, {
        onRelease: (_parentIndex, envelope, how) => this.#release(envelope, how),
        policy: alignment,
        route,
        ...timeJoinAlignerOptions(init.nodes, init.task.nodeIndex, init.queueSize),
      });
    }
    signal.addEventListener('abort', () => this.#received.notify(), { once: true });
  }

  /**
   * Binds the inbound socket (once); resolves to the endpoint it got (a `tcp://host:*` request with
   * its port filled in), or undefined for a task without inputs.
   */
  bind(): Promise<string | undefined> {
    this.#bound ??= this.#bind();
    return this.#bound;
  }

  async #bind(): Promise<string | undefined> {
    const inbound = this.#inbound;
    if (inbound === undefined) return undefined;
    const curve = this.init.transport.curve;
    if (curve !== undefined) this.#zap = await startZapHandler(curve.publicKey);
    await inbound.bind(this.init.transport.endpoints[this.init.task.id] as string);
    this.#loops.push(this.#receiveLoop(inbound));
    return inbound.lastEndpoint ?? undefined;
  }

  /**
   * Binds the inbound socket and connects to every child task at `endpoints` (by task id; default:
   * the ones in `init`). Call once before use.
   */
  async connect(endpoints: readonly string[] = this.init.transport.endpoints): Promise<void> {
    const { task, tasks, nodes, transport } = this.init;
    await this.bind();
    const node = nodes[task.nodeIndex];
    for (const childIndex of node?.children ?? []) {
      const childTasks = tasks.filter((candidate) => candidate.nodeIndex === childIndex);
      const keepsUnconfirmed = this.init.restartOnFailure && childTasks.length > 1;
      const recentLimit = keepsUnconfirmed ? recentlyConfirmedLimit(nodes, childIndex, this.init.queueSize) : 0;
      const replicas = childTasks.map((childTask) => {
        const endpoint = endpoints[childTask.id] as string;
        // No fixed routing id: a stranger taking it first would lock the real task out.
        const socket = new (zeromq().Dealer)({
          // What a closing socket still holds after the end was acknowledged (or given up on, by a
          // stop) is for a receiver that no longer reads: an exit waited the whole linger for it
          // (a stop that took 5,027 ms once in a full suite, where it takes ~500).
          linger: 1000,
          sendHighWaterMark: 0,
          receiveHighWaterMark: 0,
          ipv6: isIpv6Endpoint(endpoint),
          // Only feedback comes back, but whoever answers at a tcp address (a port reused by another
          // program, say) is read before CURVE has checked it.
          ...frameBoundOptions(endpoint),
          ...curveClientOptions(transport.curve),
        });
        socket.connect(endpoint);
        const replica = new ReplicaLink(socket, childTask.id, keepsUnconfirmed, recentLimit);
        // Over tcp no frame may exceed what the replica's socket accepts.
        if (isTcpEndpoint(endpoint)) replica.prepareData = splitLargeFrames;
        // An ipc endpoint is on this host, hence can read this host's shared memory; tcp may be another machine.
        const shared = this.#sharedSender;
        if (shared !== undefined && endpoint.startsWith('ipc://')) {
          replica.prepareData = (frames) => shared.outgoing(frames, childTask.id);
          this.#createRing(replica);
        }
        return replica;
      });
      const link = new ChildLink(nodes[childIndex]?.name ?? String(childIndex), replicas, routesBySeq(nodes, childIndex) ? 'seq' : 'room');
      this.children.push(link);
      for (const replica of replicas) {
        replica.enqueue([packHeader(['h', task.id])], true);
        this.#loops.push(this.#creditLoop(link, replica));
      }
    }
  }

  /** The run's shared-memory directory and the native helper, where rings and bells can be used; else undefined. */
  #ringSupport(): { directory: string; native: NativeRing } | undefined {
    const directory = this.init.sharedMemory?.directory;
    const native = nativeRings();
    return directory === undefined || native === null ? undefined : { directory, native };
  }

  /**
   * Makes this task's bell before any ring exists, so that the tasks it will share rings with find
   * it. Without it (or with {@link RING_BELL_ENV} `0`), they wake this task by ZeroMQ.
   */
  #createBell(): BellListener | undefined {
    const rings = this.#ringSupport();
    if (rings === undefined || process.env[RING_BELL_ENV] === '0') return undefined;
    try {
      return BellListener.create(rings.native, bellPath(rings.directory, this.init.task.id), () => this.#bellRang());
    } catch {
      return undefined;
    }
  }

  /**
   * The bell rang: entries wait in a ring (the take loop reads them), or a replica this task asked
   * for room woke it. Either may be so; the bell does not say which.
   */
  #bellRang(): void {
    this.#received.notify();
    for (const link of this.children) this.#roomCollected(link, (replica) => replica.answerWake());
  }

  /** Task `taskId`'s bell, to ring it; undefined where it has none (it is then woken by ZeroMQ). */
  #openBell(taskId: number): BellRinger | undefined {
    const directory = this.init.sharedMemory?.directory;
    return directory === undefined ? undefined : BellRinger.open(bellPath(directory, taskId), nativeRings() ?? undefined);
  }

  /**
   * Creates the shared ring to `replica` (a task on this host) before the handshake, so that the
   * replica finds it when it admits this task. Without room for it (a small `/dev/shm`), ZeroMQ.
   */
  #createRing(replica: ReplicaLink): void {
    const rings = this.#ringSupport();
    if (rings === undefined) return;
    try {
      replica.useRing(RingWriter.create(rings.native, ringPath(rings.directory, this.init.task.id, replica.taskId)));
    } catch {
      // the replica finds no ring: envelopes go on ZeroMQ
    }
  }

  /**
   * Sends one encoded data message to one task of `link`'s node. Called only by the publisher.
   * Batch waits for credit; realtime keeps only the freshest message until credit comes. Returns a
   * promise only when the publisher must wait for it; undefined when the message is dealt with (sent,
   * or kept): the common case then costs no promise and no turn of the microtask queue.
   */
  protected abstract deliver(link: ChildLink, message: SentMessage): Promise<void> | undefined;

  /** Sends to a replica, spending one credit. For {@link deliver} implementations. */
  protected sendTo(replica: ReplicaLink, message: SentMessage): void {
    this.#moved += 1;
    replica.credit -= 1;
    replica.unconfirmed?.push(message);
    replica.enqueueData(message.frames);
  }

  /** Waits until some replica of `link` grants credit (rejects with AbortedError on abort). */
  protected async waitForCredit(link: ChildLink): Promise<void> {
    if (this.askForRoom(link)) return;
    // Set around the wait only (no try/finally on this path): an abort ends the task anyway.
    this.#waitingForRoom = link;
    await link.creditArrived.wait(this.signal);
    this.#waitingForRoom = undefined;
  }

  /**
   * What this task's loop waits on now, and how far it has got, for the host's deadlock watch
   * (`runtime/queueDeadlock.ts`): room, when the policy could lend it ({@link canLend}).
   */
  queueWait(): QueueWait {
    const link = this.#waitingForRoom;
    if (link !== undefined && this.canLend(link)) return { on: 'room', child: link.nodeName, moved: this.#moved };
    if (this.#waitingForInput) return { on: 'input', moved: this.#moved };
    // Waiting for credit with nothing to lend (what it sent, unconfirmed) is waiting for the children too.
    return this.#waitingForChildren || link !== undefined ? { on: 'end', moved: this.#moved } : { moved: this.#moved };
  }

  /**
   * {@link queueWait} with the room on each of this task's edges as it counts it (`EdgeRooms`), for
   * the answer to the host's probe: where a peer counts otherwise, something is in flight between them.
   */
  queueWaitWithRooms(): QueueWait {
    const toChildren: Array<readonly [number, number]> = [];
    for (const link of this.children) {
      for (const replica of link.replicas) if (!replica.lost) toChildren.push([replica.taskId, replica.roomLeft()]);
    }
    return { ...this.queueWait(), rooms: { toChildren, fromParents: [...this.#senderRoom] } };
  }

  /**
   * The flow is in a deadlock of bounded queues (the host found every task waiting and none moving):
   * sends the message that waits for room past it, one. The room it takes is repaid as it is
   * released. True when there was such a message.
   */
  lendRoom(): boolean {
    const link = this.#waitingForRoom;
    if (link === undefined || !this.lend(link)) return false;
    link.creditArrived.notify();
    return true;
  }

  /** Whether the policy holds a message for `link` that {@link lend} would send. Default: no (a policy that never blocks a publisher). */
  protected canLend(_link: ChildLink): boolean {
    return false;
  }

  /** Sends the first message the policy holds for `link` past its room ({@link lendRoom}); false when it holds none. Default: none. */
  protected lend(_link: ChildLink): boolean {
    return false;
  }

  /**
   * Where the message of origin `seq` goes now ({@link ChildLink.pick}), counting the room handed
   * back through shared rings, which comes with no message and is taken only when needed.
   */
  protected replicaWithRoom(link: ChildLink, seq: number): ReplicaLink | undefined {
    return link.pick(seq) ?? (this.collectRoom(link) ? link.pick(seq) : undefined);
  }

  /**
   * Takes the room that `link`'s replicas on this host handed back through their rings' counters
   * (no message says so unless this task asked, {@link askForRoom}); when there was some, the
   * policy may send what it kept ({@link onCredit}), and waiters wake. True when there was some.
   */
  protected collectRoom(link: ChildLink): boolean {
    return this.#roomCollected(link, (replica) => replica.collectRingCredit());
  }

  /**
   * Asks `link`'s replicas on this host to wake this task when they hand room back, and takes what
   * they handed back already (one step per ring: no wake-up is lost). True when there was some.
   */
  protected askForRoom(link: ChildLink): boolean {
    return this.#roomCollected(link, (replica) => replica.askRingForCredit());
  }

  #roomCollected(link: ChildLink, collect: (replica: ReplicaLink) => boolean): boolean {
    let collected = false;
    for (const replica of link.replicas) if (collect(replica)) collected = true;
    if (collected) this.#roomCame(link);
    return collected;
  }

  /** Room came back from `link`'s replicas: outputs it confirms are confirmed, the policy may send what it kept, waiters wake. */
  #roomCame(link: ChildLink): void {
    if (this.#confirmsOutputs) this.#confirmOutputs();
    this.onCredit(link);
    link.creditArrived.notify();
  }

  /** Returns a promise only when a child has no room for the message yet (see {@link deliver}). */
  publishMessage(value: unknown, meta?: MessageMetadata): Promise<void> | undefined {
    if (this.children.length === 0) {
      // Nothing to send, but under restartOnFailure the input's room goes back only through this
      // count (without children, an input is confirmed once processed): a replicated node with no
      // children stalled after queueSize × its tasks inputs.
      if (this.#confirmsOutputs) {
        this.#published += 1;
        this.#confirmOutputs();
      }
      return undefined;
    }
    const m = this.metadataFor(meta);
    // Checked here, in the sender: a value that cannot travel fails this node, not its receiver.
    const frames = encodeValue(value, this.init.task.nodeName);
    const message: SentMessage = { seq: m.seq, frames: [packDataHeader(m, frames.length), ...frames] };
    if (this.#fatal !== undefined) throw this.#fatal;
    return this.#deliverFrom(0, message);
  }

  /** Delivers `message` to the children from `first` on; waits (a promise) only for a child that has no room. */
  #deliverFrom(first: number, message: SentMessage): Promise<void> | undefined {
    const { children } = this;
    for (let index = first; index < children.length; index++) {
      const waiting = this.deliver(children[index] as ChildLink, message);
      if (waiting !== undefined) return waiting.then(() => this.#deliverFrom(index + 1, message));
    }
    if (this.#confirmsOutputs) {
      this.#published += 1;
      this.#confirmOutputs();
    }
    return undefined;
  }

  /**
   * Whether the policy still holds messages for `link` that must leave before the end of the stream
   * (batch: waiting for room; realtime: the freshest one kept aside). Default: none.
   */
  protected holdsMessagesFor(_link: ChildLink): boolean {
    return false;
  }

  async publishTerminationMessage(reason: EndReason = 'completed'): Promise<void> {
    // The end must not overtake the messages the policy still holds.
    for (const link of this.children) {
      while (this.holdsMessagesFor(link)) await this.waitForCredit(link);
    }
    // A replica may still die holding unconfirmed messages: they must reach a survivor before its end.
    for (const link of this.children) {
      while (!link.allConfirmed) {
        if (this.#fatal !== undefined) throw this.#fatal;
        await this.waitForCredit(link);
      }
    }
    const frame = packHeader(['e', reason]);
    this.#moved += 1;
    for (const link of this.children) {
      for (const replica of link.replicas) if (!replica.lost) replica.enqueue([frame]);
    }
    // Wait until every child has the end: zero-copy frames must not be freed (process exit) while
    // ZeroMQ is still writing them. A dead child ends the flow through the host, which aborts this wait.
    this.#waitingForChildren = true;
    for (const link of this.children) {
      while (link.replicas.some((replica) => !replica.endAcknowledged)) await link.creditArrived.wait(this.signal);
    }
    this.#waitingForChildren = false;
  }

  /**
   * Resolves once every child replica has admitted this task (proof checked, room granted) or was
   * lost. A task says it is ready only then: a flow that started with a link still in its handshake
   * would hold its first outputs back there, and realtime would keep only the freshest of them.
   * Bounded by the host's ready timeout (and this task's abort signal).
   */
  async admitted(): Promise<void> {
    for (const link of this.children) {
      while (link.replicas.some((replica) => !replica.admitted && !replica.lost)) {
        if (this.#fatal !== undefined) throw this.#fatal;
        await link.creditArrived.wait(this.signal);
      }
    }
  }

  /**
   * Child task `taskId` finished (the host says so): it needs nothing more from this task, so the
   * wait for its end acknowledgement is over. The way out when the acknowledgement is lost.
   */
  peerFinished(taskId: number): void {
    for (const link of this.children) {
      for (const replica of link.replicas) {
        if (replica.taskId === taskId) {
          replica.endAcknowledged = true;
          link.creditArrived.notify();
        }
      }
    }
  }

  /**
   * Task `taskId` died and the flow goes on without it (the host says so, `restartOnFailure`). As
   * its parent: send what it had not finished to the other replicas. As its child: count its end.
   */
  peerLost(taskId: number): void {
    for (const link of this.children) {
      for (const replica of link.replicas) {
        if (replica.taskId !== taskId || replica.lost) continue;
        replica.lost = true;
        replica.credit = 0;
        replica.endAcknowledged = true;
        replica.socket.linger = 0;
        replica.socket.close();
        replica.closeRing(this.#label);
        this.#sharedSender?.lost(taskId);
        if (!link.resendFrom(replica)) this.#fatal ??= new Error(`every task of node "${link.nodeName}" is lost`);
        link.announceDone(replica);
        // What the policy kept for the lost replica now goes to a survivor, which may have room
        // already and send no credit for a long time (or ever: it may be waiting for exactly these).
        this.onCredit(link);
        link.creditArrived.notify();
      }
    }
    const lost = this.init.tasks[taskId];
    const parentIndex = lost === undefined ? -1 : (this.init.nodes[this.init.task.nodeIndex]?.parents.indexOf(lost.nodeIndex) ?? -1);
    // What the lost task wrote into its ring before it died is its output like any other.
    const inbox = this.#rings.get(taskId);
    if (inbox !== undefined) {
      this.#rings.delete(taskId);
      inbox.senderBell?.close();
      try {
        this.#pump(inbox);
      } catch (error) {
        this.#failWith(error);
      }
    }
    if (parentIndex >= 0 && lost !== undefined && this.#aligner !== undefined && !this.#endedSenders.has(taskId)) {
      this.#endedSenders.add(taskId);
      this.#aligner.push(parentIndex, { kind: 'end', reason: 'completed' });
      // The survivors will send again what the lost one had sent but this task has not taken, ahead
      // of outputs already holding their room here: grant them room for all of it, or they would wait on us.
      const siblings = this.init.tasks.filter((task) => task.nodeIndex === lost.nodeIndex && !this.#endedSenders.has(task.id));
      for (const sibling of siblings) this.#grant(sibling.id, this.init.queueSize * lost.nbTasks);
      this.#received.notify();
    }
  }

  /**
   * Hands back the room of every input whose output all children have now released (or, without
   * children, that has been processed). Inputs and outputs correspond one to one, in order.
   */
  #confirmOutputs(): void {
    const confirmable = this.children.length === 0 ? this.#published : Math.min(...this.children.map((link) => link.confirmed));
    const newly = Math.min(confirmable, this.#published) - this.#confirmed;
    if (newly <= 0) return;
    this.#confirmed += newly;
    const rooms = new Map<number, number>();
    for (const senders of this.#unconfirmedInputs.splice(0, newly)) {
      for (const taskId of senders) rooms.set(taskId, (rooms.get(taskId) ?? 0) + 1);
    }
    for (const [taskId, count] of rooms) this.#grant(taskId, count, true);
  }

  protected nextInput(): Promise<InputSet> {
    return this.#until(takeAligned);
  }

  receiveRawMessage(): Promise<RawMessage> {
    return this.#until((aligner) => aligner.takeRaw());
  }

  checkForTermination(): boolean {
    return this.#isStopRequested();
  }

  rejected(): number {
    // Strangers refused in the CURVE handshake never got as far as a message: count them too.
    return this.#rejected + (this.#zap?.refused ?? 0);
  }

  drops(): readonly EdgeDrops[] {
    const { nodes, task } = this.init;
    const node = nodes[task.nodeIndex];
    const name = (index: number) => nodes[index]?.name ?? String(index);
    const inbound = (this.#aligner?.droppedByParent ?? []).map((count, parentIndex) => ({
      from: name(node?.parents[parentIndex] ?? -1),
      to: task.nodeName,
      count,
    }));
    const outbound = [...this.#unsent].map(([to, count]) => ({ from: task.nodeName, to, count }));
    return [...inbound, ...outbound].filter((edge) => edge.count > 0);
  }

  /** Counts a message a publisher dropped instead of sending to `link`'s node (realtime). */
  protected recordUnsent(link: ChildLink): void {
    this.#unsent.set(link.nodeName, (this.#unsent.get(link.nodeName) ?? 0) + 1);
  }

  /**
   * Called when a replica of `link` grants credit, or is lost (its share moves to the survivors),
   * before waiters wake: a policy may send what it kept.
   */
  protected onCredit(_link: ChildLink): void {}

  /** This task in diagnostics: `node#replica`. */
  get #label(): string {
    return `${this.init.task.nodeName}#${this.init.task.taskIndex}`;
  }

  /** Closes every socket. `graceful`: give queued messages (the end of stream) time to leave. */
  async close(graceful: boolean): Promise<void> {
    for (const link of this.children) {
      for (const replica of link.replicas) {
        replica.closeRing(this.#label);
        if (replica.socket.closed) continue;
        if (!graceful) replica.socket.linger = 0;
        replica.socket.close();
      }
    }
    if (this.#inbound !== undefined) {
      // Credits and end acknowledgements still queued must leave before the socket closes: a parent waits for its ack.
      await this.#creditSends.run(async () => undefined);
      this.#inbound.linger = graceful ? 1000 : 0;
      this.#inbound.close();
    }
    await Promise.allSettled(this.#loops);
    this.#bell?.close();
    for (const inbox of this.#rings.values()) inbox.senderBell?.close();
    this.#zap?.stop();
    this.#sharedSender?.close(this.#label);
  }

  protected override readyInput(): InputSet | undefined {
    const aligner = this.#aligner;
    if (aligner === undefined || this.#fatal !== undefined || this.signal.aborted) return undefined;
    let input = this.#take(aligner, takeAligned);
    if (input === undefined) {
      // Entries may wait in the rings (a busy task reads them only when it runs out): read them, without sleeping.
      this.#pumpRings();
      if (this.#fatal !== undefined) return undefined;
      input = this.#take(aligner, takeAligned);
      if (input === undefined) return undefined;
    }
    this.#flushCredits(false);
    return input;
  }

  /** One attempt at taking from the aligner, with the bookkeeping of what it took. */
  #take<T>(aligner: NodeAligner, attempt: (aligner: NodeAligner) => T | undefined): T | undefined {
    const result = attempt(aligner);
    if (this.#takenFrom.length > 0) {
      // The messages of the set just taken: their room goes back when its output is confirmed.
      this.#unconfirmedInputs.push(this.#takenFrom);
      this.#takenFrom = [];
    }
    return result;
  }

  async #until<T>(attempt: (aligner: NodeAligner) => T | undefined): Promise<T> {
    const aligner = this.#aligner;
    if (aligner === undefined) throw new Error(`node "${this.init.task.nodeName}" has no inputs to receive`);
    for (;;) {
      if (this.#fatal !== undefined) throw this.#fatal;
      if (this.signal.aborted) throw new AbortedError();
      const result = this.#take(aligner, attempt);
      if (result !== undefined) {
        this.#moved += 1;
        this.#flushCredits(false);
        return result;
      }
      // About to wait: hand back every credit first, or sender and receiver could wait on each other.
      this.#flushCredits(true);
      if (this.#readRingsOrSleep()) continue;
      this.#waitingForInput = true;
      await this.#waitForInput(aligner);
      this.#waitingForInput = false;
      // Woken (most often by a bell): read the rings at once. Marking them sleeping first, as the
      // loop would, and then awake again costs two more cell operations on every wake-up.
      this.#wakeRings();
      this.#pumpRings();
    }
  }

  /** Reads every ring (and what waits on ZeroMQ behind it) into the aligner. A malformed entry becomes the task's error. */
  #pumpRings(): void {
    try {
      for (const inbox of this.#rings.values()) this.#pump(inbox);
    } catch (error) {
      this.#failWith(error);
    }
  }

  /**
   * Marks every ring sleeping (its sender rings the doorbell on its next entry); reads them instead
   * when entries arrived meanwhile, and then says so (true): there is no need to wait.
   */
  #readRingsOrSleep(): boolean {
    // A sender that waits for room released in a batch not yet full: it must not wait on this task.
    for (const inbox of this.#rings.values()) if (inbox.unannounced > 0 && inbox.reader.senderWaits()) this.#wakeSender(inbox);
    let arrived = false;
    for (const inbox of this.#rings.values()) if (inbox.mode === 'ring' && inbox.reader.sleep()) arrived = true;
    if (!arrived) return false;
    this.#wakeRings();
    this.#pumpRings();
    return true;
  }

  /** Marks every ring awake: its sender stops ringing. */
  #wakeRings(): void {
    for (const inbox of this.#rings.values()) inbox.reader.wake();
  }

  /** Records the task's first fatal error; the next take or publish throws it. */
  #failWith(error: unknown): void {
    this.#fatal ??= error instanceof Error ? error : new Error(String(error));
  }

  /**
   * Waits for the next arrival, or until the aligner's deadline (a time join's timeout), whichever
   * comes first. Without a deadline, the notifier's own promise: a paced hop's wake-up resumes one
   * async function less on its way from the bell to the take loop (traced: 25–28 → 20 µs).
   */
  #waitForInput(aligner: NodeAligner): Promise<void> {
    const deadline = aligner.nextDeadline?.();
    if (deadline === undefined) return this.#received.wait(this.signal);
    return this.#waitUntil(deadline);
  }

  /** Waits for the next arrival, or until `deadline` (`performance.now()` time). */
  async #waitUntil(deadline: number): Promise<void> {
    const timer = setTimeout(() => this.#received.notify(), Math.max(0, deadline - performance.now()));
    try {
      await this.#received.wait(this.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Time joins: what became of the groups so far. */
  joinGroups(): JoinGroupCounts | undefined {
    return this.#aligner?.joinGroups?.();
  }

  /** Time joins: markers of items given up upstream, consumed as their parent's absence. */
  skipped(): readonly EdgeFailures[] {
    const { nodes, task } = this.init;
    const node = nodes[task.nodeIndex];
    return skippedEdges(
      this.#aligner?.skippedByParent ?? [],
      task.nodeName,
      (parentIndex) => nodes[node?.parents[parentIndex] ?? -1]?.name ?? String(parentIndex),
    );
  }

  async #receiveLoop(socket: Zmq.Router): Promise<void> {
    try {
      for await (const [routingId, ...frames] of socket) {
        if (!this.#senders.has((routingId as Buffer).toString('latin1'))) {
          this.#admit(routingId as Buffer, frames);
          continue;
        }
        try {
          // One multipart message may hold several envelopes: each says how many raw frames follow.
          let at = 0;
          while (at < frames.length) at = this.#accept(routingId as Buffer, frames, at);
          // Room freed on arrival (stale messages pushed out) goes back now, not at the next take.
          this.#flushCredits(false);
        } catch (error) {
          this.#failWith(error);
        }
        this.#received.notify();
      }
    } catch (error) {
      if (!isClosed(error)) this.#fatal ??= error as Error;
      this.#received.notify();
    }
  }

  /**
   * A message from a connection that has not proven it is a task of this run: only the handshake is
   * read. A hello claiming a parent task not connected yet is answered with a challenge; a proof
   * that answers it admits the connection as that task and grants it room. Anything else (a claim
   * on a task already connected, a wrong proof, data, garbage) is dropped unread and counted:
   * a stranger can neither feed this task nor fail the flow.
   */
  #admit(routingId: Buffer, frames: readonly Buffer[]): void {
    let envelope: WireEnvelope | undefined;
    try {
      if (frames.length === 1) envelope = parseEnvelope(frames, 0).envelope;
    } catch {
      // refused below, like any other message of a stranger
    }
    const claim = envelope?.kind === 'hello' || envelope?.kind === 'proof' ? this.#parentTask(envelope.taskId) : undefined;
    if (envelope === undefined || claim === undefined || this.#routingIds.has(claim.taskId)) {
      this.#rejected += 1;
      return;
    }
    const { runSecret } = this.init.transport;
    const challenge = helloChallenge(runSecret, this.init.task.id, this.#challengeSalt, routingId);
    if (envelope.kind === 'hello') {
      this.#sendTo(routingId, packHeader(['n', challenge]));
      return;
    }
    if (envelope.kind !== 'proof' || !verifyHelloProof(runSecret, this.init.task.id, claim.taskId, challenge, envelope.proof)) {
      this.#rejected += 1;
      return;
    }
    this.#senders.set(routingId.toString('latin1'), claim);
    this.#routingIds.set(claim.taskId, Buffer.from(routingId));
    // Before the grant, on the same socket: the sender knows where to write before it may.
    if (this.#openRing(claim)) this.#sendTo(routingId, RING_MAPPED_FRAME);
    // `freshest` grants one message more than it keeps: the newest arrival pushes the oldest out
    // (or a join keeps it in its window, `kept`) and its credit comes straight back, so a sender is
    // never stuck holding fresher data.
    this.#grant(claim.taskId, this.init.queueSize + (this.#alignment === 'freshest' ? 1 : 0), false);
  }

  /**
   * Maps the ring that admitted parent task `sender` made for this task, if it made one (a task on
   * this host: the ring is in the run's own directory, under a name made of the two task ids).
   */
  #openRing(sender: { taskId: number; parentIndex: number }): boolean {
    const rings = this.#ringSupport();
    if (rings === undefined) return false;
    const path = ringPath(rings.directory, sender.taskId, this.init.task.id);
    if (!existsSync(path)) return false;
    try {
      const reader = RingReader.open(rings.native, path);
      this.#rings.set(sender.taskId, {
        reader,
        sender,
        senderBell: this.#openBell(sender.taskId),
        mode: 'ring',
        backlog: [],
        unannounced: 0,
      });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * An envelope on ZeroMQ from admitted task `sender`. From a task that writes through a ring, it
   * takes its place in the stream ({@link RingInbox}); a doorbell only says to read the ring.
   */
  #arrived(sender: { taskId: number; parentIndex: number }, envelope: WireEnvelope): void {
    const inbox = this.#rings.get(sender.taskId);
    if (inbox === undefined) {
      this.#acceptEnvelope(sender, envelope);
      return;
    }
    if (envelope.kind !== 'doorbell') inbox.backlog.push(envelope);
    this.#pump(inbox);
  }

  /** Takes what `inbox`'s stream holds, in order, ring and ZeroMQ in turn, as far as it has arrived. */
  #pump(inbox: RingInbox): void {
    for (;;) {
      if (inbox.mode === 'ring') {
        const stopped = inbox.reader.drain((frames) => {
          for (let at = 0; at < frames.length; ) {
            const parsed = parseEnvelope(frames, at, this.#sharedReader, false);
            this.#acceptEnvelope(inbox.sender, parsed.envelope);
            at = parsed.next;
          }
        });
        if (stopped === 'empty') return;
        inbox.mode = 'zmq';
      }
      const next = inbox.backlog.shift();
      if (next === undefined) return;
      if (next.kind === 'toRing') inbox.mode = 'ring';
      else this.#acceptEnvelope(inbox.sender, next);
    }
  }

  /** Task `taskId` as a sender to this task (its parent node's index among this node's parents), if it is one. */
  #parentTask(taskId: number): { taskId: number; parentIndex: number } | undefined {
    const sender = this.init.tasks[taskId];
    const parentIndex = sender === undefined ? -1 : (this.init.nodes[this.init.task.nodeIndex]?.parents.indexOf(sender.nodeIndex) ?? -1);
    return sender === undefined || parentIndex < 0 ? undefined : { taskId, parentIndex };
  }

  /** Accepts the envelope starting at `frames[at]` from an admitted task; returns the index of the next one. */
  #accept(routingId: Buffer, frames: readonly Buffer[], at: number): number {
    const { envelope, next } = parseEnvelope(frames, at, this.#sharedReader);
    const sender = this.#senders.get(routingId.toString('latin1'));
    if (sender === undefined) throw new WireError('message from a peer that was never admitted');
    if (envelope.kind !== 'batch') {
      this.#arrived(sender, envelope);
      return next;
    }
    for (let inner = 0; inner < envelope.frames.length; ) {
      const parsed = parseEnvelope(envelope.frames, inner, this.#sharedReader, false);
      this.#arrived(sender, parsed.envelope);
      inner = parsed.next;
    }
    return next;
  }

  /** Accepts one (unbatched) envelope from admitted task `sender`. */
  #acceptEnvelope(sender: { taskId: number; parentIndex: number }, envelope: WireEnvelope): void {
    if (envelope.kind === 'batch') throw new WireError('batch envelope inside a batch');
    if (envelope.kind === 'doorbell' || envelope.kind === 'toRing')
      throw new WireError(`${envelope.kind} from task ${sender.taskId}, which has no ring`);
    // An admitted connection is one of this run's tasks: a repeated handshake is a bug, not a stranger.
    if (envelope.kind === 'hello' || envelope.kind === 'proof') throw new WireError(`second ${envelope.kind} from task ${sender.taskId}`);
    this.#moved += 1;
    const aligner = this.#aligner as NodeAligner;
    if (envelope.kind === 'done') {
      aligner.markDone?.(envelope.seqs);
      this.#received.notify();
      return;
    }
    if (envelope.kind === 'end') {
      // A sender reported lost has already been counted as ended.
      if (!this.#endedSenders.has(sender.taskId)) aligner.push(sender.parentIndex, { kind: 'end', reason: envelope.reason });
      this.#endedSenders.add(sender.taskId);
      this.#sendToSender(sender.taskId, packHeader(['a']));
      return;
    }
    const parentNode = this.init.nodes[this.init.tasks[sender.taskId]?.nodeIndex ?? -1];
    const { value, seq, ticket, taskIndex, proctimeMs, actualProctimeMs, createdAt, timestamp } = envelope;
    const meta = messageMetadata(seq, ticket, parentNode?.name ?? '?', taskIndex, proctimeMs, actualProctimeMs, createdAt, timestamp);
    const data: ReceivedData = { kind: 'data', value, meta, senderTaskId: sender.taskId };
    this.#senderRoom.set(sender.taskId, (this.#senderRoom.get(sender.taskId) ?? 0) - 1);
    const arrivals = this.#pendingArrivals;
    if (arrivals !== undefined) arrivals.set(sender.taskId, (arrivals.get(sender.taskId) ?? 0) + 1);
    aligner.push(sender.parentIndex, data, this.init.queueSize * (parentNode?.nbTasks ?? 1));
  }

  #release(envelope: Envelope, how: ReleaseKind): void {
    const taskId = (envelope as Partial<ReceivedData>).senderTaskId;
    if (taskId === undefined) return;
    // Confirming outputs: a taken message's room goes back once its output is released downstream,
    // not now; one that makes no output (a duplicate, an unmatched tail) gives its room back at once.
    if (this.#confirmsOutputs && how === 'taken') this.#takenFrom.push(taskId);
    // Through a ring's counter, room goes back at once: it costs no message.
    else if (this.#roomThroughRing(taskId)) this.#grant(taskId, 1, true);
    else this.#pendingCredit.set(taskId, (this.#pendingCredit.get(taskId) ?? 0) + 1);
  }

  /**
   * Hands back pending room in batches of `creditBatch`. `waiting` (this task is about to wait for
   * input): also any smaller remainder to a sender whose room runs low, which may be waiting on it;
   * a sender with room left will send, and what it sends wakes this task. (Handing back every
   * remainder on every wait cost a credit message per data message whenever the receiver kept up.)
   * Under `restartOnFailure` every remainder goes back on every wait, as credits are also
   * confirmations there: a sender drops what it keeps for re-sending, confirms its own inputs
   * upstream and ends its stream only once its messages are released (withholding them hung re-dispatch).
   */
  #flushCredits(waiting: boolean): void {
    if (this.#pendingArrivals !== undefined) {
      for (const [taskId, count] of this.#pendingArrivals) {
        if (count === 0 || (count < this.#creditBatch && !waiting)) continue;
        this.#pendingArrivals.set(taskId, 0);
        this.#sendToSender(taskId, packHeader(['k', count]));
      }
    }
    for (const [taskId, count] of this.#pendingCredit) {
      if (count === 0) continue;
      if (
        count < this.#creditBatch &&
        !(waiting && (this.init.restartOnFailure || (this.#senderRoom.get(taskId) ?? 0) < this.#creditBatch))
      ) {
        continue;
      }
      this.#pendingCredit.set(taskId, 0);
      this.#grant(taskId, count, true);
    }
  }

  /** Gives `taskId` room for `count` messages: `released` (they were taken) or granted anew. */
  #grant(taskId: number, count: number, released = false): void {
    this.#senderRoom.set(taskId, (this.#senderRoom.get(taskId) ?? 0) + count);
    const inbox = released && this.#roomThroughRing(taskId) ? this.#rings.get(taskId) : undefined;
    if (inbox === undefined) {
      this.#sendToSender(taskId, packHeader([released ? 'c' : 'g', count]));
      return;
    }
    // A waiting sender is woken for a batch of room (as credits are batched), or when this task waits.
    inbox.unannounced += count;
    if (inbox.reader.release(count) && inbox.unannounced >= this.#creditBatch) this.#wakeSender(inbox);
  }

  /**
   * Whether room goes back to `taskId` through its ring's counter. Not under `restartOnFailure`:
   * there room is also confirmation, which a task must hear of as it comes (it confirms its own
   * inputs upstream then), and a counter is only read when its sender needs room.
   */
  #roomThroughRing(taskId: number): boolean {
    return !this.init.restartOnFailure && this.#rings.has(taskId);
  }

  #wakeSender(inbox: RingInbox): void {
    inbox.unannounced = 0;
    if (!inbox.reader.wakeSender()) return;
    if (inbox.senderBell === undefined) this.#sendToSender(inbox.sender.taskId, WAKE_FRAME);
    else inbox.senderBell.ring();
  }

  #sendToSender(taskId: number, frame: Buffer): void {
    const routingId = this.#routingIds.get(taskId);
    if (routingId !== undefined) this.#sendTo(routingId, frame);
  }

  #sendTo(routingId: Buffer, frame: Buffer): void {
    const socket = this.#inbound;
    if (socket === undefined) return;
    this.#creditSends
      .run(() => socket.send([routingId, frame]))
      .catch((error: unknown) => {
        if (!isClosed(error)) this.#fatal ??= error as Error;
      });
  }

  async #creditLoop(link: ChildLink, replica: ReplicaLink): Promise<void> {
    try {
      for await (const frames of replica.socket) {
        const feedback = parseFeedback(frames);
        if (feedback.kind === 'challenge') {
          const { runSecret } = this.init.transport;
          const proof = helloProof(runSecret, replica.taskId, this.init.task.id, feedback.challenge);
          replica.enqueue([packHeader(['p', this.init.task.id, proof])], true);
          continue;
        }
        if (feedback.kind === 'ack') {
          replica.endAcknowledged = true;
          link.creditArrived.notify();
          continue;
        }
        if (feedback.kind === 'arrived') {
          replica.arrived += feedback.count;
          if (this.#confirmsOutputs) this.#confirmOutputs();
          continue;
        }
        if (feedback.kind === 'ring') {
          replica.ringMapped(this.#openBell(replica.taskId));
          continue;
        }
        if (feedback.kind === 'wake') {
          // Asking again, not just taking: the receiver cleared the flag to wake this task, and the
          // room it woke it for may have been taken already; a waiter must stay marked as one.
          this.askForRoom(link);
          continue;
        }
        replica.addCredit(feedback.count, feedback.released);
        this.#roomCame(link);
      }
    } catch (error) {
      if (!isClosed(error)) {
        this.#fatal ??= error as Error;
        link.creditArrived.notify();
      }
    }
  }
}

function isClosed(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EAGAIN' || code === 'ETERM' || code === 'ENOTSOCK' || code === 'EBADF';
}

function isTcpEndpoint(endpoint: string | undefined): boolean {
  return endpoint?.startsWith('tcp://') === true;
}

/**
 * ZeroMQ's bound on each frame a socket accepts ({@link MAX_TCP_FRAME_BYTES}), on tcp only: there a
 * stranger can connect, and libzmq allocates the size a frame announces before CURVE has
 * authenticated anyone (up to 2 GiB a connection, held until the handshake timed out). None on ipc:
 * its socket files are in the run's 0700 directory, which only this user can enter, and the
 * frames there travel whole (no per-message work is added to the path between tasks on one host).
 */
function frameBoundOptions(endpoint: string | undefined): { maxMessageSize?: number } {
  return isTcpEndpoint(endpoint) ? { maxMessageSize: MAX_TCP_FRAME_BYTES } : {};
}

/**
 * Whether `endpoint` names an IPv6 address (`tcp://[fd00::2]:*`): its socket needs ZeroMQ's `ipv6`
 * option to bind or reach it ("No such device" without). Only then: with it, ZeroMQ reports an
 * IPv4 endpoint as IPv4-mapped (`tcp://[::ffff:10.0.0.2]:port`).
 */
function isIpv6Endpoint(endpoint: string | undefined): boolean {
  return endpoint?.startsWith('tcp://[') === true;
}
