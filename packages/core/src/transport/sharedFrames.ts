import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packHeader, unpackHeader } from '../wire/codec.js';
import { MAX_FRAME_BYTES, WireError } from '../wire/format.js';

/**
 * Large raw frames between tasks on one host, through shared memory (issue 14). A sender writes a
 * frame once into a file of the run's directory on tmpfs (`/dev/shm`) and sends only its name on
 * ZeroMQ; the receiver reads it into memory of its own and unlinks it at once, on arrival. Each
 * receiver gets a name of its own (a hard link to the first receiver's file when a frame fans out),
 * so whoever reads a name removes it, and the memory is freed when the last name goes.
 *
 * Copies per hop: one. The sender writes the frame into the segment (one `write`); the receiver
 * maps it copy-on-write (`MAP_PRIVATE`, the optional native helper `native/vfShm.c`) and unlinks
 * it, so its typed array is the mapping: it owns its bytes (a mutation copies the page it touches,
 * which no sibling nor the sender ever sees) without copying them. Without the helper (not built:
 * no C compiler or headers at install) the receiver reads the segment into memory of its own: two
 * copies, slower than a Unix socket. A segment never outlives its arrival, so drops, fan-out and
 * replicas need no reference counting across processes.
 *
 * Lifetime: a name lives from the send until the receiver's arrival. Data messages leave only with
 * credit, so the names in flight per link are bounded by `queueSize`; on top of that a sender keeps
 * at most {@link SHARED_BYTES_IN_FLIGHT_MAX} bytes not yet confirmed (credits come back for read
 * messages only) and sends the rest inline rather than grow. Names sent to a replica that died are
 * unlinked by their sender; the host removes the whole directory when the run ends, and every task
 * removes it when it notices that the host is gone.
 */

/** Raw frames (typed arrays, Buffers, DataViews, ArrayBuffers, long strings) of at least this many bytes go through shared memory. */
export const SHARED_FRAME_MIN_BYTES = 64 * 1024;

/**
 * Most bytes a sender has in shared memory that no receiver has confirmed yet (all its links
 * together). Over it, frames travel inline on ZeroMQ: memory stays bounded, nothing waits.
 */
export const SHARED_BYTES_IN_FLIGHT_MAX = 1024 * 1024 * 1024;

/** Where segment directories live: tmpfs, memory that no disk backs. */
export const SHARED_MEMORY_ROOT = '/dev/shm';

/** The native helper, if it was built (`native/build.mjs`, run at install); `VF_SHARED_MAP=0` turns it off. */
export interface NativeShm {
  /** An ArrayBuffer over a private, copy-on-write mapping of the whole segment (exactly `byteLength` bytes). */
  map(path: string, byteLength: number): ArrayBuffer;
}

let native: NativeShm | null | undefined;

/** The native helper, loaded once; null where it is not built or turned off. */
export function nativeSharedMemory(): NativeShm | null {
  if (native !== undefined) return native;
  native = null;
  if (process.env.VF_SHARED_MAP === '0') return native;
  const require = createRequire(import.meta.url);
  // From src/transport/ (source) or dist/ (built).
  for (const candidate of ['../../native/build/vfShm.node', '../native/build/vfShm.node']) {
    try {
      native = require(candidate) as NativeShm;
      break;
    } catch {
      // not there: the next candidate, else read with a copy
    }
  }
  return native;
}

/** A segment's name: the sender process's nonce, then a counter. Anything else is refused unread. */
const SEGMENT_NAME = /^[0-9a-f]{16}-[0-9]{1,15}$/;

/**
 * Creates this run's segment directory, mode 0700, with an unguessable name, under `root`;
 * undefined where there is no tmpfs to put it on (then frames travel inline).
 */
export function createSharedDirectory(root: string = SHARED_MEMORY_ROOT): string | undefined {
  if (process.platform !== 'linux' || !existsSync(root)) return undefined;
  const directory = join(root, `vf-${randomBytes(16).toString('hex')}`);
  try {
    // mkdir fails if the name exists: nobody can have prepared it for us.
    mkdirSync(directory, { mode: 0o700 });
    // The process umask may have narrowed the mode; 0700 exactly is what we rely on.
    if ((statSync(directory).mode & 0o777) !== 0o700) throw new Error('unexpected mode');
    return directory;
  } catch {
    rmSync(directory, { recursive: true, force: true });
    return undefined;
  }
}

/** Removes a segment directory and whatever is left in it (never throws). */
export function removeSharedDirectory(directory: string | undefined): void {
  if (directory === undefined) return;
  try {
    rmSync(directory, { recursive: true, force: true });
  } catch {
    // another task of the run removed it at the same moment
  }
}

/** One data message sent to a receiver and not yet confirmed: its segment names and their bytes. */
interface Unconfirmed {
  readonly names: readonly string[];
  readonly bytes: number;
}

const NOTHING_SHARED: Unconfirmed = { names: [], bytes: 0 };

/**
 * The sending half, one per task: turns the frames of a data message into the frames sent to one
 * receiver, large raw frames replaced by segment references in the envelope header.
 */
export class SharedFrameSender {
  readonly #directory: string;
  readonly #minBytes: number;
  readonly #maxInFlight: number;
  readonly #nonce = randomBytes(8).toString('hex');
  #counter = 0;
  #inFlight = 0;
  /** Per receiver task, per data message sent to it, oldest first: what is not confirmed yet. */
  readonly #unconfirmed = new Map<number, Unconfirmed[]>();
  /** The last segment written for a frame: the next receiver of the same frame gets a hard link to it. */
  readonly #lastName = new WeakMap<Buffer, string>();

  constructor(directory: string, minBytes = SHARED_FRAME_MIN_BYTES, maxInFlight = SHARED_BYTES_IN_FLIGHT_MAX) {
    this.#directory = directory;
    this.#minBytes = minBytes;
    this.#maxInFlight = maxInFlight;
  }

  /** Bytes in segments not yet confirmed read (for tests and diagnostics). */
  get bytesInFlight(): number {
    return this.#inFlight;
  }

  /**
   * The frames to send to task `receiver` for a data message `[envelope header, value header,
   * ...raw frames]`. Raw frames of at least the threshold become segments: the envelope header
   * gains their references (see `wire/envelope.ts`) and each such frame travels empty.
   */
  outgoing(frames: readonly Buffer[], receiver: number): readonly Buffer[] {
    let shared: Array<[number, string, number]> | undefined;
    let out: Buffer[] | undefined;
    let bytes = 0;
    // frames[1] is the value header (MessagePack, small): only raw frames, from frames[2], are shared.
    for (let index = 2; index < frames.length; index++) {
      const frame = frames[index] as Buffer;
      if (frame.length < this.#minBytes || this.#inFlight + bytes + frame.length > this.#maxInFlight) continue;
      const name = this.#segment(frame);
      if (name === undefined) continue;
      shared ??= [];
      out ??= [...frames];
      shared.push([index - 1, name, frame.length]);
      out[index] = EMPTY;
      bytes += frame.length;
    }
    const queue = this.#queue(receiver);
    if (out === undefined || shared === undefined) {
      queue.push(NOTHING_SHARED);
      return frames;
    }
    queue.push({ names: shared.map(([, name]) => name), bytes });
    this.#inFlight += bytes;
    out[0] = withSharedFrames(frames[0] as Buffer, shared);
    return out;
  }

  /** `count` more data messages sent to `receiver` were released there: they arrived, their segments are gone. */
  released(receiver: number, count: number): void {
    const queue = this.#unconfirmed.get(receiver);
    if (queue === undefined) return;
    for (const message of queue.splice(0, count)) this.#inFlight -= message.bytes;
  }

  /** Task `receiver` died: whatever it had not read yet is removed (its messages are re-sent as new segments). */
  lost(receiver: number): void {
    for (const message of this.#unconfirmed.get(receiver)?.splice(0) ?? []) {
      this.#inFlight -= message.bytes;
      for (const name of message.names) this.#unlink(name);
    }
  }

  /** Removes every segment this task sent that is not confirmed (the task is closing). */
  close(): void {
    for (const receiver of [...this.#unconfirmed.keys()]) this.lost(receiver);
  }

  #queue(receiver: number): Unconfirmed[] {
    let queue = this.#unconfirmed.get(receiver);
    if (queue === undefined) {
      queue = [];
      this.#unconfirmed.set(receiver, queue);
    }
    return queue;
  }

  /** A new segment holding `frame`, or undefined when it cannot be made (then the frame travels inline). */
  #segment(frame: Buffer): string | undefined {
    const name = `${this.#nonce}-${this.#counter++}`;
    const path = join(this.#directory, name);
    const previous = this.#lastName.get(frame);
    if (previous !== undefined) {
      try {
        linkSync(join(this.#directory, previous), path);
        this.#lastName.set(frame, name);
        return name;
      } catch {
        // its receiver has read it already: write anew
      }
    }
    let fd: number | undefined;
    try {
      // O_EXCL: never write into a file somebody else prepared (nor through a link).
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      let written = 0;
      while (written < frame.length) written += writeSync(fd, frame, written, frame.length - written);
      this.#lastName.set(frame, name);
      return name;
    } catch {
      // tmpfs full, or the directory gone (the run is ending): this frame travels inline.
      if (fd !== undefined) this.#unlink(name);
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  #unlink(name: string): void {
    try {
      unlinkSync(join(this.#directory, name));
    } catch {
      // read and removed by its receiver already
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Appends the segment references to a data envelope header (its ninth field). */
function withSharedFrames(header: Buffer, shared: ReadonlyArray<[number, string, number]>): Buffer {
  const fields = unpackHeader(header) as unknown[];
  return packHeader([...fields, shared]);
}

/**
 * The receiving half: reads a segment of the run's directory into memory of its own (an exact
 * ArrayBuffer, which the decoder then uses without another copy) and removes it.
 */
export class SharedFrameReader {
  readonly #directory: string;
  readonly #mapper: NativeShm | null;

  /** @param mapper maps segments copy-on-write (default: the native helper if built); null reads them with a copy */
  constructor(directory: string, mapper: NativeShm | null = nativeSharedMemory()) {
    this.#directory = directory;
    this.#mapper = mapper;
  }

  /** The `byteLength` bytes of segment `name`, which is unlinked before this returns. Throws {@link WireError}. */
  read(name: unknown, byteLength: unknown): Buffer {
    if (typeof name !== 'string' || !SEGMENT_NAME.test(name)) throw new WireError(`malformed shared-memory segment name ${String(name)}`);
    if (typeof byteLength !== 'number' || !Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength > MAX_FRAME_BYTES) {
      throw new WireError(`shared-memory segment ${name} announces ${String(byteLength)} bytes`);
    }
    const path = join(this.#directory, name);
    const mapper = byteLength > 0 ? this.#mapper : null;
    if (mapper !== null) {
      try {
        return Buffer.from(mapper.map(path, byteLength));
      } catch (error) {
        throw new WireError(`shared-memory segment ${name} of ${byteLength} bytes cannot be mapped: ${(error as Error).message}`);
      } finally {
        // The mapping holds the memory on its own; the name goes now, mapped or not.
        try {
          unlinkSync(path);
        } catch {
          // it never existed: the error above says so
        }
      }
    }
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      throw new WireError(`shared-memory segment ${name} cannot be opened: ${(error as Error).message}`);
    }
    try {
      // Unlinked first: whatever happens next, the name is gone and the memory goes with the last descriptor.
      unlinkSync(path);
      const stat = fstatSync(fd);
      if (!stat.isFile() || stat.size !== byteLength) {
        throw new WireError(`shared-memory segment ${name} holds ${stat.size} bytes, ${byteLength} announced`);
      }
      // Its own ArrayBuffer, of exactly the frame's size: the decoder takes it as is.
      const frame = Buffer.allocUnsafeSlow(byteLength);
      let read = 0;
      while (read < byteLength) {
        const got = readSync(fd, frame, read, byteLength - read, read);
        if (got === 0) throw new WireError(`shared-memory segment ${name} ended after ${read} of ${byteLength} bytes`);
        read += got;
      }
      return frame;
    } catch (error) {
      if (error instanceof WireError) throw error;
      throw new WireError(`shared-memory segment ${name} cannot be read: ${(error as Error).message}`);
    } finally {
      closeSync(fd);
    }
  }
}
