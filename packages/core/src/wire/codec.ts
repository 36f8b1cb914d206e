import { Packr } from 'msgpackr';
import { VfError } from '../errors.js';

/**
 * Data frames: `[header, ...raw]`. The header is MessagePack (never evaluated as code); every typed
 * array and Buffer inside the value travels as its own raw frame, referenced from the header by
 * `{ dtype, length }` (the seed's `send_array` / `recv_array`, generalised to nested values), so a
 * 1080p frame crosses the wire without being copied into an encoder buffer.
 */

/** Typed array element types that travel as raw frames. */
export const DTYPES = {
  uint8: Uint8Array,
  uint8c: Uint8ClampedArray,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
  bigint64: BigInt64Array,
  biguint64: BigUint64Array,
} as const;
export type Dtype = keyof typeof DTYPES | 'buffer';

type TypedArray = InstanceType<(typeof DTYPES)[keyof typeof DTYPES]>;

/** Largest header accepted, and largest single raw frame; guards memory on bad input. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
export const MAX_FRAME_BYTES = 2 * 1024 * 1024 * 1024;

const FRAME_REF = '\u0000vf:frame';

/** A decoding failure: malformed or inconsistent frames. Never a crash, never unbounded memory. */
export class WireError extends VfError {
  constructor(message: string) {
    super('WIRE_FORMAT', message);
    this.name = 'WireError';
  }
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number' });

function dtypeOf(value: ArrayBufferView): Dtype | undefined {
  if (Buffer.isBuffer(value)) return 'buffer';
  for (const [name, type] of Object.entries(DTYPES)) {
    if (value.constructor === type) return name as Dtype;
  }
  return undefined;
}

/** Encodes `value` into frames: a MessagePack structure plus one raw frame per typed array. */
export function encodeValue(value: unknown): Buffer[] {
  const { structure, frames } = splitValue(value);
  return [packr.pack(structure), ...frames];
}

/** Separates the raw frames from a value: `structure` references them by index (1-based). */
export function splitValue(value: unknown): { structure: unknown; frames: Buffer[] } {
  const frames: Buffer[] = [];
  const structure = extractFrames(value, frames, 0);
  return { structure, frames };
}

/** Rebuilds a value from a structure made by {@link splitValue} and its raw frames; validates both. */
export function joinValue(structure: unknown, raw: readonly Buffer[]): unknown {
  const used = new Set<number>();
  const value = restoreFrames(structure, raw, used, 0);
  if (used.size !== raw.length) throw new WireError(`message has ${raw.length} raw frames but the header references ${used.size}`);
  return value;
}

function extractFrames(value: unknown, frames: Buffer[], depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > 64) throw new WireError('value nests deeper than 64 levels');
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const dtype = dtypeOf(value);
    if (dtype === undefined) throw new WireError(`cannot send a ${value.constructor.name}`);
    frames.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return { [FRAME_REF]: frames.length, dtype, length: dtype === 'buffer' ? value.byteLength : (value as TypedArray).length };
  }
  if (Array.isArray(value)) return value.map((item) => extractFrames(item, frames, depth + 1));
  if (value instanceof Date || value instanceof Map || value instanceof Set || value instanceof RegExp) {
    throw new WireError(`cannot send a ${value.constructor.name}: send plain data (objects, arrays, typed arrays)`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'function' || typeof item === 'symbol') continue;
    out[key] = extractFrames(item, frames, depth + 1);
  }
  return out;
}

/** Decodes frames made by {@link encodeValue}. Throws {@link WireError} on any inconsistency. */
export function decodeValue(frames: readonly Buffer[]): unknown {
  const [header, ...raw] = frames;
  if (header === undefined) throw new WireError('message has no header frame');
  if (header.length > MAX_HEADER_BYTES) throw new WireError(`header of ${header.length} bytes exceeds ${MAX_HEADER_BYTES}`);
  let structure: unknown;
  try {
    structure = packr.unpack(header);
  } catch (error) {
    throw new WireError(`header is not valid MessagePack: ${(error as Error).message}`);
  }
  return joinValue(structure, raw);
}

function restoreFrames(value: unknown, raw: readonly Buffer[], used: Set<number>, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > 64) throw new WireError('header nests deeper than 64 levels');
  if (Array.isArray(value)) return value.map((item) => restoreFrames(item, raw, used, depth + 1));
  const record = value as Record<string, unknown>;
  if (FRAME_REF in record) return restoreFrame(record, raw, used);
  for (const key of Object.keys(record)) record[key] = restoreFrames(record[key], raw, used, depth + 1);
  return record;
}

function restoreFrame(ref: Record<string, unknown>, raw: readonly Buffer[], used: Set<number>): ArrayBufferView {
  const index = ref[FRAME_REF];
  const { dtype, length } = ref;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 1 || index > raw.length) {
    throw new WireError(`frame reference ${String(index)} is out of range (1..${raw.length})`);
  }
  if (used.has(index)) throw new WireError(`frame ${index} is referenced twice`);
  used.add(index);
  const frame = raw[index - 1] as Buffer;
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) throw new WireError(`frame ${index} has an invalid length`);
  if (frame.length > MAX_FRAME_BYTES) throw new WireError(`frame ${index} exceeds ${MAX_FRAME_BYTES} bytes`);
  if (dtype === 'buffer') {
    if (frame.length !== length) throw new WireError(`frame ${index}: ${frame.length} bytes, header says ${length}`);
    return frame;
  }
  const type = typeof dtype === 'string' ? DTYPES[dtype as keyof typeof DTYPES] : undefined;
  if (type === undefined) throw new WireError(`frame ${index} has unknown dtype ${String(dtype)}`);
  if (frame.length !== length * type.BYTES_PER_ELEMENT) {
    throw new WireError(`frame ${index}: ${frame.length} bytes do not hold ${length} ${String(dtype)} elements`);
  }
  // Views need aligned offsets; copy only when the transport handed us an unaligned slice.
  if (frame.byteOffset % type.BYTES_PER_ELEMENT === 0) return new type(frame.buffer as ArrayBuffer, frame.byteOffset, length);
  const copy = new type(length);
  new Uint8Array(copy.buffer).set(frame);
  return copy;
}

/** Encodes a small control structure (envelope header) as MessagePack. */
export function packHeader(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes a MessagePack header; throws {@link WireError} when malformed. */
export function unpackHeader(frame: Buffer | undefined): unknown {
  if (frame === undefined) throw new WireError('missing envelope header');
  if (frame.length > MAX_HEADER_BYTES) throw new WireError(`envelope header of ${frame.length} bytes is too large`);
  try {
    return packr.unpack(frame);
  } catch (error) {
    throw new WireError(`envelope header is not valid MessagePack: ${(error as Error).message}`);
  }
}
