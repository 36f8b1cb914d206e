import { VfError } from '../errors.js';

/** A publisher waiting for room on one edge, as {@link WaitBoard} sees it. */
export interface RoomWait {
  /** The edge, for the warning: `parent -> child`. */
  readonly edge: string;
  /** Lets the publisher's message in past the queue's room (it is counted, and its room repaid as it is released). */
  lend(): void;
}

/**
 * Breaks deadlocks of bounded queues in one in-process run (Parks' rule for bounded Kahn networks).
 * Two joins that each hold back what the other waits for can block every task of a flow whose
 * output needs no more than a little more room: every task then waits, for room or for input, and
 * nothing is left to run. When that is so, one publisher waiting for room is let in past its room,
 * by one message: the queues grow only when and as much as the flow needs to go on.
 *
 * The board knows it exactly, since every task runs here: tasks say when they start and stop
 * waiting on the flow's queues (user code's own waits, a paced producer's timer or a node's I/O,
 * are not such waits); once every running task waits, a check runs after the microtasks have
 * drained, and finds a deadlock when no wait began or ended since. With no publisher waiting for
 * room, nothing could ever wake: every waiting task is failed with `FLOW_DEADLOCK` instead.
 */
export class WaitBoard {
  #running: number;
  #waiting = 0;
  /** Changes whenever a wait begins or ends, so that a check sees whether anything moved since it was scheduled. */
  #moves = 0;
  readonly #roomWaits: RoomWait[] = [];
  #checkScheduled = false;
  readonly #onLent: (wait: RoomWait) => void;
  readonly #onStuck: (error: VfError) => void;

  /**
   * @param tasks the run's tasks, all running until they call {@link taskEnded}
   * @param onLent called with each wait let in past its room (the run warns)
   * @param onStuck called once every task waits for input with no room to lend (nothing could wake them)
   */
  constructor(tasks: number, onLent: (wait: RoomWait) => void, onStuck: (error: VfError) => void) {
    this.#running = tasks;
    this.#onLent = onLent;
    this.#onStuck = onStuck;
  }

  /** A task begins to wait for input (or for its replicas' turn to take one). */
  waitForInput(): void {
    this.#began();
  }

  /** A publisher begins to wait for room. */
  waitForRoom(wait: RoomWait): void {
    this.#roomWaits.push(wait);
    this.#began();
  }

  /** A wait begun with {@link waitForInput} or {@link waitForRoom} (pass it) ended. */
  stopWaiting(wait?: RoomWait): void {
    if (wait !== undefined) {
      const index = this.#roomWaits.indexOf(wait);
      if (index >= 0) this.#roomWaits.splice(index, 1);
    }
    this.#waiting -= 1;
    this.#moves += 1;
  }

  /** A task's loop returned: it no longer runs. */
  taskEnded(): void {
    this.#running -= 1;
    this.#moves += 1;
    this.#checkWhenSettled();
  }

  #began(): void {
    this.#waiting += 1;
    this.#moves += 1;
    this.#checkWhenSettled();
  }

  #checkWhenSettled(): void {
    if (this.#checkScheduled || this.#running === 0 || this.#waiting < this.#running) return;
    this.#checkScheduled = true;
    const moves = this.#moves;
    // After the microtasks: a task woken meanwhile has ended its wait (or begun the next) by then.
    setImmediate(() => {
      this.#checkScheduled = false;
      if (this.#moves !== moves) {
        this.#checkWhenSettled();
        return;
      }
      if (this.#running === 0 || this.#waiting < this.#running) return;
      if (this.#roomWaits.length === 0) {
        this.#onStuck(
          new VfError('FLOW_DEADLOCK', `every task of the flow waits for input and none can send it (${this.#running} waiting)`, {
            details: { waiting: this.#running },
          }),
        );
        return;
      }
      // The one that has waited longest: a publisher let in waits again behind the others, so each edge gets its turn.
      const wait = this.#roomWaits[0] as RoomWait;
      wait.lend();
      this.#onLent(wait);
    });
  }
}
