import { packHeader, unpackHeader, WireError } from './codec.js';

/**
 * The header of a data envelope, in a fixed binary layout rather than MessagePack: every message
 * of every hop has one, and MessagePack cost a `pack` on each send and an `unpack` on each receipt
 * (msgpackr's per-call work dominates for eight numbers: ~0.96 µs a pair against ~0.33 µs written
 * and read as below, measured in one loop on the bench machine).
 *
 * Layout, little-endian:
 *   0     {@link DATA_HEADER_MARK}: MessagePack never uses this byte, so no other header starts with it
 *   1     flags: {@link HAS_TIMESTAMP}, {@link HAS_SHARED}, {@link HAS_CHUNKS}; the other bits must be 0
 *   2–3   0
 *   4–7   uint32: how many frames the value has (its own header, then its raw frames)
 *   8–55  float64 × 6: seq, ticket, taskIndex, proctimeMs, actualProctimeMs, createdAt
 *   56–63 float64 timestamp, only with {@link HAS_TIMESTAMP}
 *   then, only with {@link HAS_SHARED}: MessagePack `[[frame, segment, bytes], ...]`, the value's raw
 *         frames that travel through shared memory (`transport/sharedFrames.ts`), to the end of the frame
 *   or, only with {@link HAS_CHUNKS}: uint32 n, then n × (uint32 frame, uint32 bytes), to the end of
 *         the frame: the value's raw frames that travel split into chunks (tcp, `frameChunks.ts`)
 * Nothing else may follow. The receiver checks every field ({@link parseDataHeader}). The frame
 * count counts the value's frames, not the chunks they travel in.
 */
export const DATA_HEADER_MARK = 0xc1;
const HAS_TIMESTAMP = 1;
const HAS_SHARED = 2;
/** Shared frames are for tasks on one host, chunks for tcp: a header has one or the other, never both. */
const HAS_CHUNKS = 4;
const CHUNK_ENTRY_BYTES = 8;
const FIXED_BYTES = 56;
const TIMESTAMP_BYTES = 8;

/** The metadata a data envelope carries. */
export interface DataHeaderFields {
  readonly seq: number;
  readonly ticket: number;
  readonly taskIndex: number;
  readonly proctimeMs: number;
  readonly actualProctimeMs: number;
  readonly createdAt: number;
  readonly timestamp?: number;
}

/**
 * A parsed data header: its fields, the value's frame count, the shared-frame references as sent
 * (checked by their reader), and the frames sent in chunks (their shape checked, their meaning by `joinChunks`).
 */
export interface DataHeader extends DataHeaderFields {
  readonly frameCount: number;
  readonly shared: unknown;
  readonly chunked: readonly ChunkedFrame[] | undefined;
}

/** A frame sent in chunks: the value's raw frame `frame` (≥ 1), `bytes` long (`frameChunks.ts`). */
export type ChunkedFrame = readonly [frame: number, bytes: number];

/** A shared-memory reference: the value's raw frame `frame` (≥ 1) is segment `segment`, `bytes` long. */
export type SharedFrameReference = readonly [frame: number, segment: string, bytes: number];

/** Whether `frame` is a data envelope's header (it starts with {@link DATA_HEADER_MARK}). */
export function isDataHeader(frame: Buffer | undefined): boolean {
  return frame !== undefined && frame.length > 0 && frame[0] === DATA_HEADER_MARK;
}

/** Bytes 8 to 56 (64 with a timestamp): the float64 fields. */
const FIELDS_AT = 8;
const FIELD_BYTES = FIXED_BYTES - FIELDS_AT;

/**
 * The float64 fields pass through here, in the platform's byte order. Where it is little-endian,
 * as the header is, they are copied into or out of a header in one go: `Buffer#writeDoubleLE` and
 * `readDoubleLE` each copy their 8 bytes one by one in JavaScript, and a header has six or seven of
 * them (measured in loops on the bench machine: a header packed in 350–427 ns that way, 163–172
 * copied; parsed in 295–301, 166–236 copied). Elsewhere, field by field.
 */
const staged = new Float64Array(7);
const stagedFixed = new Uint8Array(staged.buffer, 0, FIELD_BYTES);
const stagedStamped = new Uint8Array(staged.buffer, 0, FIELD_BYTES + TIMESTAMP_BYTES);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Encodes a data envelope's header for a value of `frameCount` frames. */
export function packDataHeader(fields: DataHeaderFields, frameCount: number): Buffer {
  return packFields(fields, frameCount, LITTLE_ENDIAN);
}

/** {@link packDataHeader} field by field, as on a big-endian platform. Exported for its test. */
export function packDataHeaderPortably(fields: DataHeaderFields, frameCount: number): Buffer {
  return packFields(fields, frameCount, false);
}

function packFields(fields: DataHeaderFields, frameCount: number, inOneCopy: boolean): Buffer {
  const stamped = fields.timestamp !== undefined;
  const header = Buffer.allocUnsafe(FIXED_BYTES + (stamped ? TIMESTAMP_BYTES : 0));
  header[0] = DATA_HEADER_MARK;
  header[1] = stamped ? HAS_TIMESTAMP : 0;
  header[2] = 0;
  header[3] = 0;
  header.writeUInt32LE(frameCount, 4);
  staged[0] = fields.seq;
  staged[1] = fields.ticket;
  staged[2] = fields.taskIndex;
  staged[3] = fields.proctimeMs;
  staged[4] = fields.actualProctimeMs;
  staged[5] = fields.createdAt;
  if (stamped) staged[6] = fields.timestamp as number;
  const into = stamped ? stagedStamped : stagedFixed;
  if (inOneCopy) header.set(into, FIELDS_AT);
  else for (let index = 0; index < into.length / 8; index++) header.writeDoubleLE(staged[index] as number, FIELDS_AT + 8 * index);
  return header;
}

/** `header` (a data header without references) with `references` added. */
export function withSharedReferences(header: Buffer, references: readonly SharedFrameReference[]): Buffer {
  if (!isDataHeader(header) || ((header[1] as number) & HAS_SHARED) !== 0) throw new RangeError('not a data header without shared frames');
  const withReferences = Buffer.concat([header, packHeader(references)]);
  withReferences[1] = (header[1] as number) | HAS_SHARED;
  return withReferences;
}

/** `header` (a data header without references or chunks) with `chunked` listed: those frames travel in chunks. */
export function withChunkedFrames(header: Buffer, chunked: readonly ChunkedFrame[]): Buffer {
  if (!isDataHeader(header) || ((header[1] as number) & (HAS_SHARED | HAS_CHUNKS)) !== 0) {
    throw new RangeError('not a data header without shared or chunked frames');
  }
  const table = Buffer.allocUnsafe(4 + CHUNK_ENTRY_BYTES * chunked.length);
  table.writeUInt32LE(chunked.length, 0);
  for (const [index, [frame, bytes]] of chunked.entries()) {
    table.writeUInt32LE(frame, 4 + CHUNK_ENTRY_BYTES * index);
    table.writeUInt32LE(bytes, 8 + CHUNK_ENTRY_BYTES * index);
  }
  const withChunks = Buffer.concat([header, table]);
  withChunks[1] = (header[1] as number) | HAS_CHUNKS;
  return withChunks;
}

/** A whole number from 0 to 2⁵³ − 1: what seq, ticket, task ids and counts are on the wire. */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Decodes a data envelope's header; throws {@link WireError} for anything but the layout above. */
export function parseDataHeader(header: Buffer): DataHeader {
  return parseFields(header, LITTLE_ENDIAN);
}

/** {@link parseDataHeader} field by field, as on a big-endian platform. Exported for its test. */
export function parseDataHeaderPortably(header: Buffer): DataHeader {
  return parseFields(header, false);
}

function parseFields(header: Buffer, inOneCopy: boolean): DataHeader {
  if (header.length < FIXED_BYTES || header[0] !== DATA_HEADER_MARK) {
    throw new WireError(`data envelope header of ${header.length} bytes, expected at least ${FIXED_BYTES}`);
  }
  const flags = header[1] as number;
  if ((flags & ~(HAS_TIMESTAMP | HAS_SHARED | HAS_CHUNKS)) !== 0 || header[2] !== 0 || header[3] !== 0) {
    throw new WireError('data envelope header has unknown flags');
  }
  if (inOneCopy) for (let index = 0; index < FIELD_BYTES; index++) stagedFixed[index] = header[FIELDS_AT + index] as number;
  else for (let index = 0; index < FIELD_BYTES / 8; index++) staged[index] = header.readDoubleLE(FIELDS_AT + 8 * index);
  const seq = staged[0] as number;
  const ticket = staged[1] as number;
  const taskIndex = staged[2] as number;
  if (!isCount(seq) || !isCount(ticket) || !isCount(taskIndex))
    throw new WireError('data envelope: seq, ticket and taskIndex must be counts');
  const proctimeMs = staged[3] as number;
  const actualProctimeMs = staged[4] as number;
  const createdAt = staged[5] as number;
  let end = FIXED_BYTES;
  let timestamp: number | undefined;
  if ((flags & HAS_TIMESTAMP) !== 0) {
    end += TIMESTAMP_BYTES;
    if (header.length < end) throw new WireError('data envelope header announces a timestamp it lacks');
    timestamp = header.readDoubleLE(FIXED_BYTES);
  }
  if (
    !Number.isFinite(proctimeMs) ||
    !Number.isFinite(actualProctimeMs) ||
    !Number.isFinite(createdAt) ||
    !Number.isFinite(timestamp ?? 0)
  ) {
    throw new WireError('data envelope has a non-numeric timing field');
  }
  let shared: unknown;
  let chunked: ChunkedFrame[] | undefined;
  // The common message (neither shared nor chunked frames) pays one test of the flags, as before the chunks.
  if ((flags & (HAS_SHARED | HAS_CHUNKS)) === 0) {
    if (header.length !== end) throw new WireError(`data envelope header has ${header.length - end} bytes too many`);
  } else if ((flags & HAS_CHUNKS) === 0) shared = unpackHeader(header.subarray(end));
  else if ((flags & HAS_SHARED) !== 0) throw new WireError('data envelope header has both shared and chunked frames');
  else chunked = parseChunkTable(header, end);
  const frameCount = header.readUInt32LE(4);
  return timestamp === undefined
    ? { seq, ticket, taskIndex, proctimeMs, actualProctimeMs, createdAt, frameCount, shared, chunked }
    : { seq, ticket, taskIndex, proctimeMs, actualProctimeMs, createdAt, timestamp, frameCount, shared, chunked };
}

/** The chunk table at `header[at]` to its end: its shape only; what it says is checked against the frames by `joinChunks`. */
function parseChunkTable(header: Buffer, at: number): ChunkedFrame[] {
  // Bounded by the header's own length before anything is allocated: a count it cannot hold is refused.
  const count = header.length >= at + 4 ? header.readUInt32LE(at) : -1;
  if (count < 1 || header.length !== at + 4 + CHUNK_ENTRY_BYTES * count) {
    throw new WireError(`data envelope: chunk table of ${header.length - at} bytes does not hold the 1 or more entries it announces`);
  }
  const chunked: ChunkedFrame[] = [];
  for (let entry = at + 4; entry < header.length; entry += CHUNK_ENTRY_BYTES) {
    chunked.push([header.readUInt32LE(entry), header.readUInt32LE(entry + 4)]);
  }
  return chunked;
}
