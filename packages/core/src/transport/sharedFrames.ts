import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { describeReceived } from '../errors.js';
import { type NativeHelper, nativeHelper } from '../nativeHelper.js';
import { writeRunOwner } from '../runtime/runOwner.js';
import { type SharedFrameReference, withSharedReferences } from '../wire/dataHeader.js';
import { MAX_FRAME_BYTES, WireError } from '../wire/format.js';
import { bellFileName } from './ringBell.js';
import { SegmentMappingPolicy } from './segmentMapping.js';
import { ringFilePrefix } from './sharedRing.js';

/**
 * Large raw frames between tasks on one host, through shared memory (issue 14). A sender copies a
 * frame into a segment, a file of the run's directory on tmpfs (`/dev/shm`), and sends on ZeroMQ
 * only a name: a hard link of its own per receiver. The receiver maps its link copy-on-write
 * (`MAP_PRIVATE`, native helper `native/vfShm.c`): its typed array is the mapping, so it owns its
 * bytes (a write copies the page it touches, which neither siblings nor the sender see) without
 * copying them; its link goes when the buffer is collected. A segment whose links are all gone is
 * free and takes the next frame: its pages stay allocated, so a send is one `memcpy` into warm
 * memory (fresh tmpfs pages per frame cost more than a socket hop on the machines measured).
 *
 * Forwarding: a task that sends on a frame it received mapped (exactly that mapping: same
 * ArrayBuffer, whole range; an identity, a filter, a node that adds fields beside the frame) with
 * no page of it written (`/proc/self/pagemap`, checked at every send: a written page of a private
 * mapping is an anonymous copy) links its own receiver a new name to the file it received, under
 * its own nonce: same inode, no copy. The file never changes while any name of it exists (its
 * producer reuses a segment only once its own name is the last), so the new link holds exactly the
 * bytes the task saw, for as long as the receiver needs them, whatever the forwarder does next (a
 * later write copies pages into the forwarder's private mapping only). A frame that was written,
 * is part of a buffer, or was read without the helper is copied as above. Links are only ever made
 * from names this task made itself or read (checked against the name pattern) in the run's
 * directory.
 *
 * Copies per hop: one at the producer (into its segment), zero at each receiver, zero at each task
 * that forwards a frame unwritten; a task that modifies the frame copies it once more. Without the
 * helper (not built: no C compiler or headers at install; or `VF_SHARED_MAP=0`) segments are
 * written with `pwrite` and read into memory of the receiver's own, which unlinks its name at once:
 * two copies per hop, and no forwarding.
 *
 * Lifetime and bounds: a link lives until its receiver is done (read, or its mapping collected;
 * V8 counts a mapping as a quarter of its bytes, see `EXTERNAL_SHARE` in `native/vfShm.c`);
 * messages leave only with credit, so at most `queueSize` per link are in flight, and a sender's
 * pool never exceeds {@link SHARED_POOL_MAX_BYTES}: past it, frames travel inline rather than
 * grow. A forwarded frame keeps its producer's segment in use until the last task downstream is
 * done, which the producer's pool absorbs (the forwarder needs none). Links of a replica that died
 * are unlinked by its senders (whose work is re-sent as new links, forwarded again where the frame
 * is still unwritten), and its pool by the host ({@link removeLostTaskFiles}); the host removes
 * the whole directory when the run ends, and every task removes it when it notices that the host
 * is gone; a later host removes it if the host was killed before any task knew it
 * (`runtime/staleRuns.ts`).
 */

/** Raw frames (typed arrays, Buffers, DataViews, ArrayBuffers, long strings) of at least this many bytes go through shared memory. */
export const SHARED_FRAME_MIN_BYTES = 64 * 1024;

/**
 * Most bytes of segments one sending task keeps (in use by receivers, or free for its next frames).
 * Past it, frames travel inline on ZeroMQ: memory stays bounded, nothing waits.
 */
export const SHARED_POOL_MAX_BYTES = 512 * 1024 * 1024;

/** Names a file where each task appends its sender's {@link SharedFrameStats} when it closes (diagnostic). */
export const SHARED_STATS_ENV = 'VF_SHARED_STATS';

/** Where segment directories live: tmpfs, memory that no disk backs. */
export const SHARED_MEMORY_ROOT = '/dev/shm';

/** What shared memory uses of the native helper (`nativeHelper.ts`). */
export type NativeShm = Pick<NativeHelper, 'map' | 'unwritten'> & Partial<Pick<NativeHelper, 'copyStreaming'>>;

/** The native helper for shared memory, if it was built; `VF_SHARED_MAP=0` turns it off (segments are then read with a copy). */
export function nativeSharedMemory(): NativeShm | null {
  return process.env.VF_SHARED_MAP === '0' ? null : nativeHelper();
}

/** A receiver's name for a segment: the sender's nonce, the receiver task, a counter. Anything else is refused unread. */
const SEGMENT_NAME = /^[0-9a-f]{16}-[0-9]{1,9}-[0-9]{1,15}$/;

/**
 * Creates this run's segment directory, mode 0700, with an unguessable name, under `root`, with its
 * owner file (`runtime/runOwner.ts`: this process, so that a later host can remove the directory if
 * this one is killed before anything else does); undefined where there is no tmpfs to put it on
 * (then frames travel inline).
 */
export function createSharedDirectory(root: string = SHARED_MEMORY_ROOT): string | undefined {
  if (process.platform !== 'linux' || !existsSync(root)) return undefined;
  const directory = join(root, `vf-${randomBytes(16).toString('hex')}`);
  try {
    // mkdir fails if the name exists: nobody can have prepared it for us.
    mkdirSync(directory, { mode: 0o700 });
    // The process umask may have narrowed the mode; 0700 exactly is what we rely on.
    if ((statSync(directory).mode & 0o777) !== 0o700) throw new Error('unexpected mode');
    writeRunOwner(directory);
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
    // Retried (ENOTEMPTY): a task still running when its host stops at once may add a file while
    // the removal runs; left then, the directory lost its owner file first (the sweep takes it later).
    rmSync(directory, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 });
  } catch {
    // another task of the run removed it at the same moment
  }
}

/** How the pool's names of the sender of task `taskId` start: `nonce-t<taskId>-p` (see {@link removeLostTaskFiles}). */
function poolPrefix(nonce: string, taskId: number): string {
  return `${nonce}-t${taskId}-p`;
}

/**
 * Removes what task `taskId` made in the run's shared directory, when it died while the run goes
 * on (`restartOnFailure`): its pool (up to {@link SHARED_POOL_MAX_BYTES} of memory), its bell and
 * the rings it wrote (`ringBell.ts`, `sharedRing.ts`). Nobody else would until the run ends.
 * Receivers still reading one of its frames or rings keep their own mapping of it. Never throws.
 */
export function removeLostTaskFiles(directory: string | undefined, taskId: number): void {
  if (directory === undefined) return;
  const pool = new RegExp(`^[0-9a-f]{16}-t${taskId}-p[0-9]+$`);
  const bell = bellFileName(taskId);
  const rings = ringFilePrefix(taskId);
  const made = (name: string) => pool.test(name) || name === bell || (name.startsWith(rings) && /^[0-9]+$/.test(name.slice(rings.length)));
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return; // the run is over
  }
  for (const name of names) {
    if (!made(name)) continue;
    try {
      unlinkSync(join(directory, name));
    } catch {
      // gone already
    }
  }
}

/** What a sender did with its large frames, counted since it was made (for benchmarks and diagnostics). */
export interface SharedFrameStats {
  /** Frames copied into a segment of the sender's pool. */
  copied: number;
  /** Frames it had received mapped and sent on unwritten: a new link to the same file, no copy. */
  forwarded: number;
  /** Frames sent again to another receiver (fan-out): a new link to the segment it was copied into. */
  linkedAgain: number;
  /** Frames that travelled inline: the pool was full and in use, or the run is ending. */
  inline: number;
  /** Copies into a free segment of the pool (pages already allocated). */
  poolHits: number;
  /** Copies into a new segment (fresh tmpfs pages). */
  poolMisses: number;
  /**
   * Segments of the pool mapped, where later copies into them are one `memcpy`; the others are
   * written with `pwrite` (a mapping's first copy costs more on some machines than many writes).
   */
  segmentsMapped: number;
}

/** A segment of the sender's pool: its own name for it, and its bytes (mapped shared, or written with a system call). */
interface Segment {
  readonly name: string;
  readonly bytes: number;
  /** The sender's shared mapping (native helper; made when the segment is first reused), else undefined: written with `pwrite`. */
  view: Uint8Array | undefined;
  /** Bumped each time the segment takes a new frame: a fan-out link is made only to the same frame. */
  generation: number;
  /** Frames written into it with `pwrite` since it was made, while unmapped (see {@link SegmentMappingPolicy}). */
  rentedWrites: number;
}

/** How a {@link SharedFrameSender} works; every field has a default. */
export interface SharedFrameSenderOptions {
  /** Frames of at least this many bytes go through shared memory. Default {@link SHARED_FRAME_MIN_BYTES}. */
  readonly minBytes?: number;
  /** The most bytes of segments this sender keeps (in use or free); past it frames travel inline. Default {@link SHARED_POOL_MAX_BYTES}. */
  readonly maxBytes?: number;
  /** Maps the pool's segments (default: the native helper if built); null writes them with system calls. */
  readonly native?: NativeShm | null;
  /** When a free segment is mapped rather than written with `pwrite`. Default: a {@link SegmentMappingPolicy} of its own. */
  readonly mapping?: SegmentMappingPolicy;
  /** The same task's reader: a frame it mapped and that is sent on unwritten is forwarded (linked, not copied). */
  readonly received?: SharedFrameReader;
  /**
   * The id of the task this sender belongs to. Its pool's names then carry it, so that the host can
   * remove them if the task dies while the run goes on ({@link removeLostTaskFiles}).
   */
  readonly taskId?: number;
}

/**
 * The sending half, one per task: turns the frames of a data message into the frames sent to one
 * receiver, large raw frames replaced by segment references in the envelope header.
 *
 * Segments are a pool: each receiver gets a hard link of its own to the segment, and removes it
 * when it is done with the frame (on arrival when it reads; when its mapping is collected when it
 * maps). A segment whose only name left is the sender's (link count 1) is free, and takes the next
 * frame of its size in pages that are already allocated: a fresh tmpfs file per frame costs page
 * allocation on every send, which made a hop slower than a Unix socket.
 */
export class SharedFrameSender {
  readonly #directory: string;
  readonly #minBytes: number;
  readonly #maxBytes: number;
  readonly #native: NativeShm | null;
  readonly #nonce = randomBytes(8).toString('hex');
  #counter = 0;
  #pooled = 0;
  readonly #pool: Segment[] = [];
  readonly #mapping: SegmentMappingPolicy;
  /** The segment a frame was last copied into, and when: the next receiver of the same frame gets a link to it. */
  readonly #placed = new WeakMap<Buffer, { segment: Segment; generation: number }>();
  readonly #received: SharedFrameReader | undefined;
  /** What every name of this sender's pool starts with: its nonce, and its task where known. */
  readonly #poolPrefix: string;
  readonly #stats: SharedFrameStats = { copied: 0, forwarded: 0, linkedAgain: 0, inline: 0, poolHits: 0, poolMisses: 0, segmentsMapped: 0 };

  /** @param directory the run's segment directory (`createSharedDirectory`) */
  constructor(directory: string, options: SharedFrameSenderOptions = {}) {
    const {
      minBytes = SHARED_FRAME_MIN_BYTES,
      maxBytes = SHARED_POOL_MAX_BYTES,
      native = nativeSharedMemory(),
      mapping = new SegmentMappingPolicy(),
      received,
      taskId,
    } = options;
    this.#mapping = mapping;
    this.#poolPrefix = taskId === undefined ? `${this.#nonce}-p` : poolPrefix(this.#nonce, taskId);
    this.#directory = directory;
    this.#minBytes = minBytes;
    this.#maxBytes = maxBytes;
    this.#native = native;
    // Names the reader hands out are names in its directory: linking them from another would be wrong.
    if (received !== undefined && received.directory !== directory) {
      throw new RangeError(
        `a sender of ${directory} can only forward what a reader of the same directory received (${received.directory})`,
      );
    }
    this.#received = received;
  }

  /** What this sender did with its large frames so far (a copy). */
  get stats(): SharedFrameStats {
    return { ...this.#stats };
  }

  /** Bytes of segments in this sender's pool, in use or free (for tests and diagnostics). */
  get pooledBytes(): number {
    return this.#pooled;
  }

  /**
   * The frames to send to task `receiver` for a data message `[envelope header, value header,
   * ...raw frames]`. Raw frames of at least the threshold go through segments: the envelope header
   * gains their references (see `wire/envelope.ts`) and each such frame travels empty.
   */
  outgoing(frames: readonly Buffer[], receiver: number): readonly Buffer[] {
    let shared: SharedFrameReference[] | undefined;
    let out: Buffer[] | undefined;
    // frames[1] is the value header (MessagePack, small): only raw frames, from frames[2], are shared.
    for (let index = 2; index < frames.length; index++) {
      const frame = frames[index] as Buffer;
      if (frame.length < this.#minBytes) continue;
      const name = this.#send(frame, receiver);
      if (name === undefined) continue;
      shared ??= [];
      out ??= [...frames];
      shared.push([index - 1, name, frame.length]);
      out[index] = EMPTY;
    }
    if (out === undefined || shared === undefined) return frames;
    out[0] = withSharedReferences(frames[0] as Buffer, shared);
    return out;
  }

  /**
   * Task `receiver` died: its names go, whether it had read them or not, so that the segments they
   * hold come free (its messages are re-sent to other replicas as new links).
   */
  lost(receiver: number): void {
    const prefix = `${this.#nonce}-${receiver}-`;
    let names: string[];
    try {
      names = readdirSync(this.#directory);
    } catch {
      return; // the run is over
    }
    for (const name of names) if (name.startsWith(prefix)) this.#unlink(name);
  }

  /**
   * Removes the pool's own names (the task is closing); receivers' links keep what they still use.
   * Where `VF_SHARED_STATS` names a file, appends this sender's {@link stats} to it as one JSON line
   * with `label` (a diagnostic for benchmarks and tests: copies, forwards and pool hits per task).
   */
  close(label?: string): void {
    for (const segment of this.#pool.splice(0)) this.#unlink(segment.name);
    this.#pooled = 0;
    const statsFile = process.env[SHARED_STATS_ENV];
    if (statsFile === undefined || statsFile === '') return;
    try {
      appendFileSync(statsFile, `${JSON.stringify({ label, ...this.#stats })}\n`);
    } catch {
      // a diagnostic: never fails the task
    }
  }

  /** A new link, for `receiver`, to a segment holding `frame`; undefined when there is none (the frame travels inline). */
  #send(frame: Buffer, receiver: number): string | undefined {
    const name = `${this.#nonce}-${receiver}-${this.#counter++}`;
    // Checked on every send, not once: the node may write to the frame between two sends.
    const forwarded = this.#received?.forwardable(frame);
    if (forwarded !== undefined && this.#link(forwarded, name)) {
      this.#stats.forwarded += 1;
      return name;
    }
    const placed = this.#placed.get(frame);
    if (placed !== undefined && placed.generation === placed.segment.generation && this.#link(placed.segment.name, name)) {
      this.#stats.linkedAgain += 1;
      return name;
    }
    const free = this.#free(frame.length);
    const segment = free === undefined ? this.#create(frame) : this.#refill(free, frame);
    if (segment === undefined) {
      this.#stats.inline += 1;
      return undefined;
    }
    segment.generation += 1;
    this.#placed.set(frame, { segment, generation: segment.generation });
    if (!this.#link(segment.name, name)) {
      this.#stats.inline += 1;
      return undefined;
    }
    this.#stats.copied += 1;
    return name;
  }

  /** A new name `name` for the file `source` of the run's directory (both names checked or made here). */
  #link(source: string, name: string): boolean {
    try {
      linkSync(join(this.#directory, source), join(this.#directory, name));
      return true;
    } catch {
      return false; // the directory is gone: the run is ending
    }
  }

  /** A segment of `bytes` whose receivers are all done with it (its only name left is ours). */
  #free(bytes: number): Segment | undefined {
    for (const segment of this.#pool) {
      if (segment.bytes !== bytes) continue;
      try {
        if (statSync(join(this.#directory, segment.name)).nlink === 1) {
          this.#stats.poolHits += 1;
          return segment;
        }
      } catch {
        // removed under us (the run is ending)
      }
    }
    return undefined;
  }

  /**
   * A new segment holding `frame`, or undefined past the pool's cap or when tmpfs refuses (full, or
   * the run is over). Written with `pwrite`, not mapped: tmpfs allocates pages that a write fills
   * whole without zeroing them first, where mapping a new file zeroes every page before the copy
   * (on the machine measured, 2.1–2.6 ms for a 6 MB frame against 4.5). The sender maps it when it
   * reuses it (see #refill).
   */
  #create(frame: Buffer): Segment | undefined {
    const bytes = frame.length;
    if (this.#pooled + bytes > this.#maxBytes) return undefined;
    const name = `${this.#poolPrefix}${this.#pool.length}`;
    let fd: number | undefined;
    try {
      // O_EXCL: never use a file somebody else prepared (nor follow a link).
      fd = openSync(join(this.#directory, name), constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      // A full tmpfs answers ENOSPC here (the frame then travels inline), never SIGBUS later: every
      // page is allocated once this returns.
      writeWhole(fd, frame);
    } catch {
      if (fd !== undefined) this.#unlink(name);
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const segment: Segment = { name, bytes, view: undefined, generation: 0, rentedWrites: 0 };
    this.#pool.push(segment);
    this.#pooled += bytes;
    this.#stats.poolMisses += 1;
    return segment;
  }

  /**
   * `segment`, a free one of the pool, now holding `frame`; undefined when it cannot be written
   * (the run is over). Written with `pwrite` until the mapping policy says a mapping has become worth
   * its first copy (see {@link SegmentMappingPolicy}), then mapped where the helper is built (all its
   * pages are allocated: mapping them costs no zeroing) and streamed past the cache: half the time
   * of a cached copy (bench: one frame sent + received). Without the helper, or where the mapping
   * fails, always written with `pwrite`. Each write is timed for the policy.
   */
  #refill(segment: Segment, frame: Buffer): Segment | undefined {
    const native = this.#native;
    const started = performance.now();
    let mappedNow = false;
    if (segment.view === undefined && native !== null && this.#mapping.shouldMap(segment.rentedWrites)) {
      try {
        segment.view = new Uint8Array(native.map(join(this.#directory, segment.name), segment.bytes, true));
        mappedNow = true;
      } catch {
        // written with a system call instead, below
      }
    }
    try {
      if (segment.view === undefined) this.#write(segment, frame);
      else if (native?.copyStreaming === undefined) segment.view.set(frame);
      else native.copyStreaming(segment.view, frame);
    } catch {
      return undefined;
    }
    const took = performance.now() - started;
    if (mappedNow) {
      this.#stats.segmentsMapped += 1;
      this.#mapping.recordFirstCopy(frame.length, took);
    } else if (segment.view !== undefined) this.#mapping.recordMappedCopy(frame.length, took);
    else {
      segment.rentedWrites += 1;
      this.#mapping.recordWrite(frame.length, took);
    }
    return segment;
  }

  #write(segment: Segment, frame: Buffer): void {
    const fd = openSync(join(this.#directory, segment.name), constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      writeWhole(fd, frame);
    } finally {
      closeSync(fd);
    }
  }

  #unlink(name: string): void {
    try {
      unlinkSync(join(this.#directory, name));
    } catch {
      // removed by its receiver already
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Writes all of `frame` at the start of the file `fd` (`pwrite`, as often as it takes). */
function writeWhole(fd: number, frame: Buffer): void {
  let written = 0;
  while (written < frame.length) written += writeSync(fd, frame, written, frame.length - written, written);
}

/**
 * The receiving half: reads a segment of the run's directory into memory of its own (an exact
 * ArrayBuffer, which the decoder then uses without another copy) and removes it.
 */
export class SharedFrameReader {
  readonly #directory: string;
  readonly #mapper: NativeShm | null;
  /** Each mapping this reader made, and the name of its link in the run's directory (checked when read). */
  readonly #mapped = new WeakMap<ArrayBuffer, string>();

  /** @param mapper maps segments copy-on-write (default: the native helper if built); null reads them with a copy */
  constructor(directory: string, mapper: NativeShm | null = nativeSharedMemory()) {
    this.#directory = directory;
    this.#mapper = mapper;
  }

  /** The run's segment directory this reader reads from. */
  get directory(): string {
    return this.#directory;
  }

  /**
   * The `byteLength` bytes of segment `name`: mapped copy-on-write, the name unlinked when the
   * buffer is collected; or read into memory of its own, the name unlinked before this returns.
   * Throws {@link WireError}.
   */
  read(name: unknown, byteLength: unknown): Buffer {
    if (typeof name !== 'string' || !SEGMENT_NAME.test(name))
      throw new WireError(`malformed shared-memory segment name ${describeReceived(name)}`);
    if (typeof byteLength !== 'number' || !Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength > MAX_FRAME_BYTES) {
      throw new WireError(`shared-memory segment ${name} announces ${describeReceived(byteLength)} bytes`);
    }
    const path = join(this.#directory, name);
    const mapper = byteLength > 0 ? this.#mapper : null;
    if (mapper !== null) {
      try {
        // The name goes when the mapping does (collected): then the sender may reuse the segment.
        const mapping = mapper.map(path, byteLength, false);
        this.#mapped.set(mapping, name);
        return Buffer.from(mapping);
      } catch (error) {
        try {
          unlinkSync(path);
        } catch {
          // it never existed: the error says so
        }
        throw new WireError(`shared-memory segment ${name} of ${byteLength} bytes cannot be mapped: ${(error as Error).message}`);
      }
    }
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      throw new WireError(`shared-memory segment ${name} cannot be opened: ${(error as Error).message}`);
    }
    try {
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
      // Only now, read or failed: once the last link goes the sender reuses the segment, so an
      // earlier unlink would let the next frame overwrite the bytes being read.
      try {
        unlinkSync(path);
      } catch {
        // removed already (its sender saw this task lost, or the run is over)
      }
    }
  }

  /**
   * The name of this task's link to the segment that `frame` is exactly (a whole mapping this
   * reader made), if no page of it was written: that file then holds the frame's bytes, and a new
   * link to it forwards the frame without a copy. Undefined for anything else (copy it).
   */
  forwardable(frame: Buffer): string | undefined {
    const buffer = frame.buffer;
    if (frame.byteOffset !== 0 || frame.byteLength !== buffer.byteLength) return undefined;
    const name = this.#mapped.get(buffer as ArrayBuffer);
    if (name === undefined || this.#mapper === null) return undefined;
    try {
      return this.#mapper.unwritten(buffer as ArrayBuffer) ? name : undefined;
    } catch {
      return undefined; // pagemap unreadable (an older kernel, a sandbox): copy
    }
  }
}
