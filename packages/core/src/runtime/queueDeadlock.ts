/**
 * Breaking deadlocks of bounded queues between task processes (Parks' rule for bounded Kahn
 * networks), on the host. Two time joins that each hold back what the other waits for can block
 * every task of a flow that needs only a little more room to go on: every task then waits, for
 * room or for input, and nothing moves. The host lets one publisher waiting for room send one
 * message past it, and again while the flow stays stuck: queues grow only when and as much as the
 * flow needs. (`InProcessEngine` does the same from its exact view, `inProcess/waitBoard.ts`.)
 */

import { emitWarningOnce } from '../warnings.js';

/**
 * Warns (once per edge and process) that room was lent on `edge` (`parent -> child`) to break a
 * deadlock of bounded queues: the flow goes on, with more in its queues than `queueSize` says.
 */
export function warnQueueDeadlock(edge: string): void {
  emitWarningOnce(
    `${edge}: every task of the flow waited, for room or for input, and none could go on (its bounded queues deadlocked): a message was let in there beyond queueSize. The flow goes on; a larger queueSize avoids this`,
    { code: 'VF_QUEUE_DEADLOCK' },
  );
}

/** What a task's loop waits on, as it tells the host (in its periodic stats and when probed). */
export interface QueueWait {
  /**
   * `room`: a message it publishes waits for room in `child`'s queue; `input`: it waits for input;
   * `end`: it waits for its children to take its end of stream (or to confirm what it sent); absent:
   * none of these (it runs, or node code waits).
   */
  readonly on?: 'room' | 'input' | 'end';
  /** With `on: 'room'`: the child node whose queue it waits for. */
  readonly child?: string;
  /** Envelopes it has sent and received so far: when this changes, the flow moved. */
  readonly moved: number;
  /** In answers to a probe: the room on each of its edges, as it counts it ({@link EdgeRooms}). */
  readonly rooms?: EdgeRooms;
}

/**
 * The room on each edge of a task, as the task counts it. A sender and its receiver count the same
 * room (granted, plus handed back, less the messages sent) until a message or room is in flight
 * between them: a message sent and not yet taken in, room handed back and not yet taken. So where
 * both ends' counts agree on every edge, nothing is on its way that would wake a task.
 */
export interface EdgeRooms {
  /** `[child task id, room]`: the room each child task has left this task, as this task counts it. */
  readonly toChildren: ReadonlyArray<readonly [number, number]>;
  /** `[parent task id, room]`: the room this task has left each parent task, as this task counts it. */
  readonly fromParents: ReadonlyArray<readonly [number, number]>;
}

/** What {@link QueueDeadlockWatch} does to the run's tasks. */
export interface QueueDeadlockActions<Key> {
  /** The tasks still running (started, not finished, not lost). */
  live(): readonly Key[];
  /** A task's id, as its peers name it in their {@link EdgeRooms}. */
  taskId(key: Key): number;
  /** Asks a task to report its {@link QueueWait} now (it answers through {@link QueueDeadlockWatch.probed}). */
  probe(key: Key): void;
  /** Lets a task waiting for room send its message past it. */
  lend(key: Key, wait: QueueWait): void;
  /** Every task waits for input and none for room: nothing can be lent, nothing will wake them. */
  stuck(): void;
}

/** How long a task may take to answer a probe before the round is given up (it was not waiting, then). */
const PROBE_ANSWER_MS = 1_000;
/** Between two probes of a round that saw every task waiting: what is in flight between tasks on one host lands well within it. */
export const PROBE_GAP_MS = 5;

/**
 * Watches the tasks' reports for a deadlock. When two periodic reports in a row of every live task
 * say it waits and has not moved, the host probes them all; two rounds of answers, {@link PROBE_GAP_MS}
 * apart, in which every task waits, none moved and nothing is in flight between two of them (the two
 * ends of every edge count the same room, {@link EdgeRooms}), are a deadlock: one publisher waiting for room
 * (in turn, so that each edge gets its chance) is let past it, and the probing goes on while each
 * loan leaves the flow stuck again. A round that sees the flow move ends the probing: a flow that
 * runs is never probed (its tasks move between their periodic reports), and so pays nothing.
 * A message in flight for longer than a stats period (a batch of large frames on ZeroMQ, a slow link
 * between hosts) is not a deadlock: its sender counts less room than its receiver until it lands.
 */
export class QueueDeadlockWatch<Key> {
  readonly #actions: QueueDeadlockActions<Key>;
  /** Each task's latest periodic report. */
  readonly #periodic = new Map<Key, QueueWait>();
  /** Tasks whose last two periodic reports say they wait, and did not move in between. */
  readonly #still = new Set<Key>();
  /** Answers to the probe in progress. */
  #round: Map<Key, QueueWait> | undefined;
  /** The round before, when every task waited in it. */
  #previous: Map<Key, QueueWait> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #turn = 0;
  #stuck = false;
  #closed = false;
  /** Rooms lent so far. */
  lent = 0;

  constructor(actions: QueueDeadlockActions<Key>) {
    this.#actions = actions;
  }

  /** A task's periodic report. */
  reported(key: Key, wait: QueueWait): void {
    const before = this.#periodic.get(key);
    this.#periodic.set(key, wait);
    if (wait.on !== undefined && sameWait(before, wait)) this.#still.add(key);
    else this.#still.delete(key);
    if (this.#round !== undefined || this.#timer !== undefined || this.#closed) return;
    const live = this.#actions.live();
    if (live.length > 0 && live.every((one) => this.#still.has(one))) this.#probe();
    else this.#stuck = false;
  }

  /** A task's answer to a probe. */
  probed(key: Key, wait: QueueWait): void {
    if (this.#round === undefined) return;
    this.#round.set(key, wait);
    this.#roundMayBeDone();
  }

  /** A task left the live set (finished, lost): the round in progress may be complete without it. */
  left(key: Key): void {
    this.#periodic.delete(key);
    this.#still.delete(key);
    if (this.#round !== undefined) this.#roundMayBeDone();
  }

  /** Stops watching (the run ends): no timer is left. */
  close(): void {
    this.#closed = true;
    this.#round = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #probe(): void {
    if (this.#closed || this.#stuck) return;
    this.#round = new Map();
    this.#timer = setTimeout(() => this.#giveUpRound(), PROBE_ANSWER_MS);
    for (const key of this.#actions.live()) this.#actions.probe(key);
  }

  #probeAfterGap(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#probe();
    }, PROBE_GAP_MS);
  }

  #giveUpRound(): void {
    this.#timer = undefined;
    this.#round = undefined;
    this.#previous = undefined;
  }

  #roundMayBeDone(): void {
    const round = this.#round as Map<Key, QueueWait>;
    const live = this.#actions.live();
    if (!live.every((key) => round.has(key))) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#round = undefined;
    const previous = this.#previous;
    this.#previous = undefined;
    if (live.length === 0 || !live.every((key) => round.get(key)?.on !== undefined)) return;
    if (previous === undefined) {
      this.#previous = round;
      this.#probeAfterGap();
      return;
    }
    // It moved, or something is on its way: back to the periodic reports.
    if (!live.every((key) => sameWait(previous.get(key), round.get(key)))) return;
    if (this.#inFlight(live, round)) return;
    const waitingForRoom = live.filter((key) => round.get(key)?.on === 'room');
    if (waitingForRoom.length === 0) {
      this.#stuck = true;
      this.#actions.stuck();
      return;
    }
    const key = waitingForRoom[this.#turn++ % waitingForRoom.length] as Key;
    this.lent += 1;
    this.#actions.lend(key, round.get(key) as QueueWait);
    this.#probeAfterGap();
  }

  /**
   * Whether a message or room is on its way between two of the `live` tasks: the two ends of an edge
   * count different room on it. An end that did not say ({@link QueueWait.rooms} absent) is not checked.
   */
  #inFlight(live: readonly Key[], round: ReadonlyMap<Key, QueueWait>): boolean {
    const given = new Map<string, number>();
    const ids = new Set<number>();
    for (const key of live) {
      const rooms = round.get(key)?.rooms;
      if (rooms === undefined) continue;
      const id = this.#actions.taskId(key);
      ids.add(id);
      for (const [parent, room] of rooms.fromParents) given.set(`${parent}>${id}`, room);
    }
    for (const key of live) {
      const rooms = round.get(key)?.rooms;
      if (rooms === undefined) continue;
      const id = this.#actions.taskId(key);
      // A receiver that has not admitted this sender yet has granted it nothing.
      for (const [child, room] of rooms.toChildren) if (ids.has(child) && room !== (given.get(`${id}>${child}`) ?? 0)) return true;
    }
    return false;
  }
}

function sameWait(before: QueueWait | undefined, now: QueueWait | undefined): boolean {
  return before !== undefined && now !== undefined && before.on === now.on && before.moved === now.moved;
}
