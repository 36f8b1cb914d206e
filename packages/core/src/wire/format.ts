// msgpackr's `pack` entry is its plain-JavaScript build: the main entry also loads the optional native
// `msgpackr-extract`, which only speeds up decoding strings in bulk. Measured: no faster on vf's
// values (small objects, arrays of detections, 1 KB strings; within noise), and 20–25 ms of CPU to
// load it in every task process.
import { Packr } from 'msgpackr/pack';
import { VfError } from '../errors.js';

/**
 * The value wire format, shared by the encoder and the decoder. A value travels as frames
 * `[header, ...raw]`. The header is MessagePack (never evaluated as code): `[format, root]`.
 *
 * - format {@link FORMAT.Plain}: `root` is the value itself. Chosen when the value holds nothing
 *   but null, booleans, numbers other than -0, short well-formed strings, undefined, arrays and
 *   objects whose prototype is Object.prototype, each object once: the common small message, decoded by MessagePack alone.
 * - format {@link FORMAT.Tagged}: `root` mirrors the value, with arrays and plain objects as
 *   themselves and everything else as a tag, a map with the one key {@link TAG} whose value is
 *   `[kind, ...fields]` (see {@link KIND}). A user object that has the key {@link TAG} (or an own
 *   `__proto__`) travels as an {@link KIND.Object} tag, so no user data is ever read as a tag.
 *
 * Raw frames hold the bytes of ArrayBuffers (one frame per buffer, spanning the views the value
 * holds on it, so views on one buffer arrive on one buffer) and of strings over
 * {@link STRING_INLINE_MAX} characters. They are never copied into the header.
 */

/** Largest header accepted (sender and receiver alike); guards the receiver's memory. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/** Largest single raw frame (one ArrayBuffer's span, or one long string). */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024 * 1024;
/** Deepest nesting a sender may send. Receivers accept twice as deep, then refuse. */
export const MAX_DEPTH = 1000;
/** Strings longer than this (in UTF-16 code units) travel as raw frames, outside the header. */
export const STRING_INLINE_MAX = 64 * 1024;
/** Plain objects with this many keys or more travel as an {@link KIND.Object} tag (MessagePack maps are fastest under 2^16). */
export const MAX_MAP_KEYS = 0xffff;

/** The key of a tag. */
export const TAG = '\u0000';

/** First element of a header. */
export const FORMAT = { Plain: 1, Tagged: 2 } as const;

/** Tag kinds: `{ [TAG]: [kind, ...fields] }`. */
export const KIND = {
  /** `[r, index]`: the index-th object of the value, numbered in encoding order (shared and circular references). */
  Ref: 'r',
  /** `[z]`: -0. */
  MinusZero: 'z',
  /** `[n, hex]`: a BigInt, as hexadecimal digits with an optional leading `-`. */
  BigInt: 'n',
  /** `[s, utf16le bytes]` inline, or `[s, frame, 'utf8' | 'utf16le']` in a raw frame: a long or ill-formed string. */
  String: 's',
  /** `[D, time]`. */
  Date: 'D',
  /** `[R, source, flags]`. */
  RegExp: 'R',
  /** `[M, [key, value, key, value, ...]]`. */
  Map: 'M',
  /** `[S, [value, ...]]`. */
  Set: 'S',
  /** `[E, name, message, stack | undefined, props, isVfError, cause?]`: an Error; `props` its own enumerable properties. */
  Error: 'E',
  /** `[B, frame]`: an ArrayBuffer, the whole of raw frame `frame`. */
  ArrayBuffer: 'B',
  /** `[V, dtype, frame, byteOffset, byteLength]`: a typed array, Buffer or DataView over raw frame `frame`. */
  View: 'V',
  /** `[O, keys, values, nullPrototype?]`: a plain object that cannot be a MessagePack map of its own (see above), or has a null prototype. */
  Object: 'O',
  /** `[U, name, data]`: an instance of a registered type, `data` its `encode` result. */
  User: 'U',
  /** `[P, primitive]`: a boxed primitive (`new Number(1)`, `Object(1n)`, ...). */
  Boxed: 'P',
} as const;

/** Views that travel as raw frames, by dtype name. `buffer` is Node's Buffer, `dataview` a DataView. */
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
export type Dtype = keyof typeof DTYPES | 'buffer' | 'dataview';

/** Bytes per element of each dtype. */
export const BYTES_PER_ELEMENT: Readonly<Record<Dtype, number>> = {
  ...(Object.fromEntries(Object.entries(DTYPES).map(([name, type]) => [name, type.BYTES_PER_ELEMENT])) as Record<
    keyof typeof DTYPES,
    number
  >),
  buffer: 1,
  dataview: 1,
};

/** Raw frames of one ArrayBuffer start on this alignment of the original, so every view stays aligned. */
export const FRAME_ALIGNMENT = 8;

/** A decoding failure: malformed or inconsistent frames. Never a crash, never unbounded memory. */
export class WireError extends VfError {
  constructor(message: string) {
    super('WIRE_FORMAT', message);
    this.name = 'WireError';
  }
}

/**
 * The one MessagePack codec: plain maps and arrays, no records, no extensions of its own (vf tags
 * its special values itself, see above), 64-bit integers read as numbers. Binary data it reads
 * (`bin`, in a header: rare) is copied, never a view of the frame it came in: a decoded value owns
 * all its memory, so frames read in place (a shared ring's entries) may be reused at once.
 */
export const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  mapsAsObjects: true,
  int64AsType: 'number',
  copyBuffers: true,
});

/** `String.prototype.isWellFormed` (Node ≥ 20; not in the ES2023 lib typings). */
export function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}
