import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { NativeHelper } from '../nativeHelper.js';

/**
 * A task's bell: a FIFO in the run's shared-memory directory, which the task reads and the tasks
 * it shares rings with (`sharedRing.ts`) write a byte to, to wake it: a sender that wrote into the
 * ring of a receiver that sleeps, a receiver that handed room back to a sender that waits for it.
 * A byte on a FIFO is one system call for the ringer and one wake-up of the listener's event loop;
 * a ZeroMQ message (the doorbell before) also wakes ZeroMQ's I/O thread on each side, and cost a
 * relaying task a quarter of its CPU on small messages (`--cpu-prof`). Bytes of several rings
 * that come together are one wake-up: a bell says only "look at your rings", never what changed.
 *
 * Only this run's tasks can ring: the FIFO is made 0600 in the run's 0700 directory. A byte from
 * anyone else could only cause a wake-up that finds nothing.
 */

/** `0`: tasks make no bell, and are woken by ZeroMQ messages instead (diagnostic; how the fallback is tested). */
export const RING_BELL_ENV = 'VF_RING_BELL';

/** The bell of task `taskId`, in the run's shared-memory directory. */
export function bellPath(directory: string, taskId: number): string {
  return join(directory, bellFileName(taskId));
}

/** The name of task `taskId`'s bell in the run's shared-memory directory. */
export function bellFileName(taskId: number): string {
  return `bell-${taskId}`;
}

const RING_BYTE = Buffer.from('!');

/** What a bell uses of the native helper: `makeFifo`, and its event-loop listener where it was built with one. */
export type NativeBell = Pick<NativeHelper, 'makeFifo' | 'listenBell' | 'closeBell'>;

/** What a ringer uses of the native helper: its one-byte `write`, where it has one. */
export type NativeRinger = Pick<NativeHelper, 'ringBell'>;

/** This task's own bell: made, listened to, removed. */
export class BellListener {
  readonly path: string;
  readonly #stop: () => void;
  #closed = false;

  /**
   * Makes the FIFO at `path` (which must not exist) and calls `onRing` whenever it is rung (several
   * rings that come together: once). The bell does not keep the process alive. Listened to by the
   * native helper on the event loop where it can (one `read` per wake-up), else by a `net.Socket`.
   */
  static create(native: NativeBell, path: string, onRing: () => void): BellListener {
    native.makeFifo(path);
    try {
      const { listenBell, closeBell } = native;
      if (listenBell !== undefined && closeBell !== undefined) {
        const handle = listenBell(path, onRing);
        return new BellListener(path, () => closeBell(handle));
      }
      // Read-write: the FIFO never reads as ended (no writer yet, or every ringer gone), and opening does not wait for a writer.
      const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      const socket = new Socket({ fd, readable: true, writable: false });
      socket.on('data', onRing);
      // A read error would only mean no more wake-ups by bell; the task's own waits are bounded.
      socket.on('error', () => undefined);
      socket.unref();
      return new BellListener(path, () => socket.destroy());
    } catch (error) {
      unlinkSync(path);
      throw error;
    }
  }

  private constructor(path: string, stop: () => void) {
    this.path = path;
    this.#stop = stop;
  }

  /** Stops listening and removes the FIFO (ringers still holding it open write into nothing). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop();
    try {
      unlinkSync(this.path);
    } catch {
      // the run's directory is gone already
    }
  }
}

/**
 * Another task's bell, opened to ring it. Rung through the native helper's `ringBell` where it has
 * one: one `write(2)` from a small C function, where `fs.writeSync` runs Node's argument checks and
 * error plumbing in JavaScript first. A paced hop rings cold after its idle wait, and that path
 * cost 25 µs a ring there against 10 (median of 1,600 rings, 50 messages/s).
 */
export class BellRinger {
  #fd: number | undefined;
  readonly #ringBell: ((fd: number) => void) | undefined;

  /**
   * Opens the bell at `path` (its task listens to it already); undefined when there is none to ring.
   * `native`: the native helper, whose `ringBell` then rings it (else `fs.writeSync`).
   */
  static open(path: string, native?: NativeRinger): BellRinger | undefined {
    try {
      return new BellRinger(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW), native?.ringBell);
    } catch {
      return undefined;
    }
  }

  private constructor(fd: number, ringBell: ((fd: number) => void) | undefined) {
    this.#fd = fd;
    this.#ringBell = ringBell;
  }

  /** Wakes the listener. Never blocks, never throws: a full FIFO has a wake-up pending already, and a listener gone needs none. */
  ring(): void {
    if (this.#fd === undefined) return;
    if (this.#ringBell !== undefined) {
      this.#ringBell(this.#fd);
      return;
    }
    try {
      writeSync(this.#fd, RING_BYTE);
    } catch {
      // EAGAIN: bytes wait unread, so the listener wakes anyway. EPIPE: the listener is gone.
    }
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
