import { appendFileSync, closeSync, constants, ftruncateSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type NativeHelper, nativeHelper } from '../nativeHelper.js';

/**
 * A single-producer, single-consumer ring of envelopes in a shared-memory file, one per sending
 * task and receiving task on the same host (issue 14). On ZeroMQ every message costs each side a
 * send or a receive of its own (system calls, and a wake-up of ZeroMQ's I/O thread on each side);
 * through the ring, a message is one copy in and one copy out, and nobody wakes anybody while the
 * receiver is busy. A receiver about to wait for input marks its rings `sleeping`; a sender that
 * writes into a ring so marked rings the receiver's bell (`ringBell.ts`; where it cannot be opened,
 * a doorbell: a one-frame ZeroMQ message, `['w']`).
 *
 * Order. ZeroMQ stays the fallback: an envelope too large for the ring, or one that finds it full,
 * goes on ZeroMQ behind a {@link TO_ZMQ} marker in the ring, and the envelopes after it too,
 * until the sender finds room again and sends `['r']` ("back to the ring") on ZeroMQ. The receiver
 * reads the ring up to the marker, then ZeroMQ up to the `r`, then the ring again: one stream, in
 * the order it was sent, and the sender never waits for the ring (an output never waits for its
 * receiver's reading, whatever the sender computes next).
 *
 * Handover. Each flag shares its cell with the count it guards, and every change of a cell that
 * the other side also changes is one atomic read-modify-write: the sender publishes its end by
 * adding to the cell whose low bit is `sleeping` (so it learns, in the same step, whether the
 * receiver sleeps), the receiver marks itself sleeping by or-ing that bit (learning the end in the
 * same step); `released` and `waitsForRoom` likewise. No wake-up can be lost between a flag and its
 * count. The operations are the native helper's (`cell` in `native/vfShm.c`): V8 may compile
 * Atomics on memory that is not a SharedArrayBuffer as plain accesses, and a compare-and-swap so
 * compiled lost the other process's write (seen as a flow that hung, with `Atomics`).
 *
 * Room. The receiver hands room back by adding to the ring's `released` count, not by a ZeroMQ
 * message each time: the sender reads the count when it needs room, and only a sender that said it
 * waits for room (`waitsForRoom`, the same handshake as `sleeping` the other way) is woken, by its
 * bell (or feedback `['w']` on ZeroMQ).
 *
 * Layout: a 256-byte header of three 32-bit cells, each on a cache line of its own: the write end
 * with `sleeping` in its low bit (ends are multiples of 4), the read end, and `released` × 2 with
 * `waitsForRoom` in its low bit; then the data area. Ends are byte counts that only grow (mod 2³²). An entry is
 * its length (4 bytes, whole entry), its frame count (4), each frame's length (4 each), then the
 * frames' bytes, padded to 4. A length of {@link WRAP} means "continue at the start of the area".
 */

/** Bytes of one ring's data area: what the receiver has not read yet, at most. */
export const RING_BYTES = 512 * 1024;
const HEADER_BYTES = 256;
/** Cells (32-bit indices into the header). */
const WRITE_END = 0;
const READ_END = 16;
const ROOM = 32;
/** `cell` operations (`native/vfShm.c`). */
const LOAD = 0;
const STORE = 1;
const ADD = 2;
const OR = 3;
const AND = 4;
/** An entry length that means: the rest of the area is unused, the next entry is at its start. */
const WRAP = 0xffffffff;
/** An entry length that means: what follows is on ZeroMQ, until its `['r']`. */
const TO_ZMQ = 0xfffffffe;
/** Room always kept for the {@link TO_ZMQ} marker. */
const MARKER_BYTES = 4;
/** Entries larger than this go on ZeroMQ: one entry must not fill the ring. */
const MAX_ENTRY_BYTES = RING_BYTES / 4;
/** The reader publishes its read end at least this often while it drains (the sender reuses the bytes). */
const READ_END_EVERY = 64;

/** Names a file where each sending task appends one line per ring, {@link RingStats}, when it closes (diagnostic). */
export const RING_STATS_ENV = 'VF_RING_STATS';

/** What went through one ring, counted by its sender. */
export interface RingStats {
  /** Envelopes written into the ring. */
  entries: number;
  /** Envelopes that went on ZeroMQ instead (too large, or the ring was full). */
  viaZmq: number;
  /** Times the stream moved to ZeroMQ (markers written). */
  toZmq: number;
  /** Doorbells due: entries written while the receiver slept. */
  doorbells: number;
}

/** What rings use of the native helper. */
export type NativeRing = Pick<NativeHelper, 'map' | 'cell' | 'makeFifo' | 'listenBell' | 'closeBell' | 'ringBell'>;

/**
 * The native helper for rings, if it was built with their atomic cells and bells; `VF_SHARED_MAP=0` or
 * `VF_SHARED_RING=0` keeps envelopes on ZeroMQ.
 */
export function nativeRings(): NativeRing | null {
  if (process.env.VF_SHARED_MAP === '0' || process.env.VF_SHARED_RING === '0') return null;
  const native = nativeHelper();
  return native !== null && typeof native.cell === 'function' && typeof native.makeFifo === 'function' ? native : null;
}

/** The file of the ring from task `senderTaskId` to task `receiverTaskId`, in the run's shared-memory directory. */
export function ringPath(directory: string, senderTaskId: number, receiverTaskId: number): string {
  return join(directory, `${ringFilePrefix(senderTaskId)}${receiverTaskId}`);
}

/** How the names of the rings task `senderTaskId` writes start (the receiver's id follows). */
export function ringFilePrefix(senderTaskId: number): string {
  return `ring-${senderTaskId}-`;
}

function entryBytes(frames: readonly Buffer[]): number {
  let bytes = 8 + 4 * frames.length;
  for (const frame of frames) bytes += frame.length;
  return (bytes + 3) & ~3;
}

class RingView {
  protected readonly native: NativeRing;
  protected readonly buffer: ArrayBuffer;
  protected readonly data: Buffer;

  constructor(native: NativeRing, buffer: ArrayBuffer) {
    if (buffer.byteLength !== HEADER_BYTES + RING_BYTES) throw new RangeError(`a ring is ${HEADER_BYTES + RING_BYTES} bytes`);
    this.native = native;
    this.buffer = buffer;
    this.data = Buffer.from(buffer, HEADER_BYTES, RING_BYTES);
  }

  /** Whether the sender's word that it waits for room still stands (the receiver clears it to wake the sender). */
  senderWaits(): boolean {
    return (this.cell(ROOM, LOAD) & 1) === 1;
  }

  /** The cell's value before `op` (for a load: its value), as an unsigned number. */
  protected cell(index: number, op: number, operand = 0): number {
    return this.native.cell(this.buffer, index, op, operand) >>> 0;
  }
}

/** What {@link RingWriter.write} did. */
export type RingWrite = 'written' | 'written, ring the doorbell' | 'no room';

/** The sending half: creates the ring's file (and removes it when closed). */
export class RingWriter extends RingView {
  readonly path: string;
  readonly stats: RingStats = { entries: 0, viaZmq: 0, toZmq: 0, doorbells: 0 };
  /** The write end: this is the only writer. */
  #end = 0;
  /**
   * The reader's read end as last read. It only grows, so the room reckoned from it is never more
   * than there is: the shared cell is read again only when that room is too little (one native call
   * less for most entries).
   */
  #readEnd = 0;

  /** Creates the ring at `path` (which must not exist: nobody can have prepared it) and maps it. */
  static create(native: NativeRing, path: string): RingWriter {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      ftruncateSync(fd, HEADER_BYTES + RING_BYTES);
    } finally {
      closeSync(fd);
    }
    try {
      return new RingWriter(native, native.map(path, HEADER_BYTES + RING_BYTES, true), path);
    } catch (error) {
      unlinkSync(path);
      throw error;
    }
  }

  private constructor(native: NativeRing, buffer: ArrayBuffer, path: string) {
    super(native, buffer);
    this.path = path;
  }

  /** Whether `frames` would be written now (see {@link write}). */
  fits(frames: readonly Buffer[]): boolean {
    return this.#placement(entryBytes(frames));
  }

  /**
   * Writes one envelope's frames as an entry; `no room` (the ring is full, or the entry too large)
   * writes nothing. The doorbell is due when the receiver said it sleeps (and is then marked awake).
   */
  write(frames: readonly Buffer[]): RingWrite {
    const bytes = entryBytes(frames);
    if (!this.#placement(bytes)) return 'no room';
    let end = this.#end;
    let at = end % RING_BYTES;
    if (at + bytes > RING_BYTES) {
      this.data.writeUInt32LE(WRAP, at);
      end = (end + RING_BYTES - at) >>> 0;
      at = 0;
    }
    this.data.writeUInt32LE(bytes, at);
    this.data.writeUInt32LE(frames.length, at + 4);
    let offset = at + 8;
    for (const frame of frames) {
      this.data.writeUInt32LE(frame.length, offset);
      offset += 4;
    }
    for (const frame of frames) offset += frame.copy(this.data, offset);
    this.stats.entries += 1;
    return this.#publish((end + bytes) >>> 0);
  }

  /** Writes the marker that sends the receiver to ZeroMQ (room for it is always kept). */
  writeToZmq(): RingWrite {
    this.stats.toZmq += 1;
    this.data.writeUInt32LE(TO_ZMQ, this.#end % RING_BYTES);
    return this.#publish((this.#end + MARKER_BYTES) >>> 0);
  }

  /** Whether an entry of `bytes` fits now, with the marker's room kept. */
  #placement(bytes: number): boolean {
    if (bytes > MAX_ENTRY_BYTES) return false;
    const at = this.#end % RING_BYTES;
    const needed = bytes + (at + bytes > RING_BYTES ? RING_BYTES - at : 0) + MARKER_BYTES;
    if (RING_BYTES - ((this.#end - this.#readEnd) >>> 0) >= needed) return true;
    this.#readEnd = this.cell(READ_END, LOAD);
    return RING_BYTES - ((this.#end - this.#readEnd) >>> 0) >= needed;
  }

  #publish(end: number): RingWrite {
    // One step: the new end is published, and whether the receiver sleeps is learnt.
    const before = this.cell(WRITE_END, ADD, (end - this.#end) | 0);
    this.#end = end;
    if ((before & 1) === 0) return 'written';
    // It sleeps: mark it awake, and ring unless it marked itself awake meanwhile.
    if ((this.cell(WRITE_END, AND, ~1) & 1) === 0) return 'written';
    this.stats.doorbells += 1;
    return 'written, ring the doorbell';
  }

  /** How many messages the receiver has released so far (mod 2³¹). */
  released(): number {
    return this.cell(ROOM, LOAD) >>> 1;
  }

  /** Says this sender waits for room (the receiver's next release wakes it); returns {@link released}, read in the same step. */
  waitForRoom(): number {
    return this.cell(ROOM, OR, 1) >>> 1;
  }

  /** Removes the ring's file (the mappings stay until collected); with {@link RING_STATS_ENV}, appends its statistics. */
  close(label: string): void {
    try {
      unlinkSync(this.path);
    } catch {
      // the receiver removed it once mapped, or the run's directory is gone
    }
    const statsFile = process.env[RING_STATS_ENV];
    if (statsFile === undefined || statsFile === '' || this.stats.entries + this.stats.viaZmq === 0) return;
    try {
      appendFileSync(statsFile, `${JSON.stringify({ label, ...this.stats })}\n`);
    } catch {
      // a diagnostic: never fails the task
    }
  }
}

/** What {@link RingReader.drain} stopped at. */
export type RingDrain = 'empty' | 'to ZeroMQ';

/** The receiving half. */
export class RingReader extends RingView {
  /** The read end: this is the only reader. */
  #end = 0;

  /** Maps the ring at `path` (created by its sender) and removes the file: nobody else may map it. */
  static open(native: NativeRing, path: string): RingReader {
    const reader = new RingReader(native, native.map(path, HEADER_BYTES + RING_BYTES, true));
    unlinkSync(path);
    return reader;
  }

  /** The write end, without the `sleeping` bit. */
  #written(cellValue: number): number {
    return (cellValue & ~1) >>> 0;
  }

  /**
   * Reads entries in order, each as its frames, until the ring is empty or says the next envelopes
   * are on ZeroMQ. Throws a RangeError for an entry that does not fit its ring. The frames are views
   * of the ring itself, valid only until `onEntry` returns (the sender reuses the bytes once the
   * read end passes them): `onEntry` copies what it keeps. The decoders do: they build values of
   * their own and copy raw frames (`valueDecoder.ts`), so an entry costs no copy out of the ring.
   */
  drain(onEntry: (frames: Buffer[]) => void): RingDrain {
    const written = this.#written(this.cell(WRITE_END, LOAD));
    let entries = 0;
    try {
      while (this.#end !== written) {
        const at = this.#end % RING_BYTES;
        const bytes = this.data.readUInt32LE(at);
        if (bytes === WRAP) {
          this.#end = (this.#end + RING_BYTES - at) >>> 0;
          continue;
        }
        if (bytes === TO_ZMQ) {
          this.#end = (this.#end + MARKER_BYTES) >>> 0;
          return 'to ZeroMQ';
        }
        const count = this.data.readUInt32LE(at + 4);
        if (bytes < 8 || at + bytes > RING_BYTES || 8 + 4 * count > bytes) throw new RangeError(`ring entry of ${bytes} bytes at ${at}`);
        const frames: Buffer[] = [];
        let offset = at + 8 + 4 * count;
        for (let index = 0; index < count; index++) {
          const length = this.data.readUInt32LE(at + 8 + 4 * index);
          if (offset + length > at + bytes) throw new RangeError(`ring entry frame of ${length} bytes overruns its entry`);
          frames.push(this.data.subarray(offset, offset + length));
          offset += length;
        }
        this.#end = (this.#end + bytes) >>> 0;
        if (++entries % READ_END_EVERY === 0) this.cell(READ_END, STORE, this.#end | 0);
        onEntry(frames);
      }
      return 'empty';
    } finally {
      this.cell(READ_END, STORE, this.#end | 0);
    }
  }

  /** Marks the receiver sleeping; true when an entry arrived meanwhile (then read it instead of sleeping). */
  sleep(): boolean {
    return this.#written(this.cell(WRITE_END, OR, 1)) !== this.#end;
  }

  /** Marks the receiver awake: senders stop ringing. */
  wake(): void {
    this.cell(WRITE_END, AND, ~1);
  }

  /** Hands back the room of `count` released messages; true when the sender waits for room (see {@link wakeSender}). */
  release(count: number): boolean {
    return (this.cell(ROOM, ADD, 2 * count) & 1) === 1;
  }

  /** Marks the sender as woken; true when it waited (then wake it: only one waker wins). */
  wakeSender(): boolean {
    return (this.cell(ROOM, AND, ~1) & 1) === 1;
  }
}
