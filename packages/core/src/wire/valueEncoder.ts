import { isNativeError, isSharedArrayBuffer } from 'node:util/types';
import { isVfError, ValueError, type ValueErrorCode } from '../errors.js';
import {
  DTYPES,
  type Dtype,
  FORMAT,
  FRAME_ALIGNMENT,
  isWellFormed,
  KIND,
  MAX_DEPTH,
  MAX_FRAME_BYTES,
  MAX_HEADER_BYTES,
  MAX_MAP_KEYS,
  packr,
  STRING_INLINE_MAX,
  TAG,
} from './format.js';
import { valueTypeOf } from './valueTypes.js';

/**
 * The sending half of the value model (the rules are in docs/api.md, "Values"): checks a value,
 * refuses what cannot travel with a {@link ValueError} naming the path inside the value, and
 * encodes the rest as `[header, ...raw frames]` (format in `format.ts`). Typed arrays are not
 * copied: their frames are views of the sender's memory.
 */

/**
 * Encodes `value` into frames; `nodeName`, the sending node, goes into the error messages.
 * Throws {@link ValueError} (`VALUE_NOT_CLONEABLE`, `VALUE_TOO_LARGE`) for a value that cannot travel.
 */
export function encodeValue(value: unknown, nodeName?: string): Buffer[] {
  try {
    return encodeFrames(value, false);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    // Paths cost time on every value; find the refused one's by encoding again, this time keeping track.
    let refusal = error;
    if (refusal.path === undefined) {
      try {
        encodeFrames(value, true);
      } catch (located) {
        if (located instanceof Refusal) refusal = located;
      }
    }
    const path = refusal.path ?? ROOT;
    const sender = nodeName === undefined ? 'cannot send' : `node "${nodeName}" cannot send`;
    throw new ValueError(refusal.code, `${sender} ${path}: ${refusal.reason}`, {
      details: nodeName === undefined ? { path } : { nodeName, path },
    });
  }
}

const ROOT = 'output';

/** A value the model refuses, with where it sits once known. Becomes a {@link ValueError}. */
class Refusal {
  constructor(
    readonly code: ValueErrorCode,
    readonly reason: string,
    readonly path: string | undefined,
  ) {}
}

function encodeFrames(value: unknown, trackPath: boolean): Buffer[] {
  let header: Buffer;
  let frames: Buffer[];
  let root: unknown;
  if (isPlain(value, 0, undefined)) {
    root = value;
    header = packr.pack([FORMAT.Plain, value]);
    frames = [];
  } else {
    const encoder = new Encoder(trackPath);
    root = encoder.encode(value, 0);
    frames = encoder.finish();
    header = packr.pack([FORMAT.Tagged, root]);
  }
  if (header.length > MAX_HEADER_BYTES) throw tooLargeHeader(root, header.length);
  return [header, ...frames];
}

/**
 * True when MessagePack alone carries `value` exactly: nothing to tag, no object twice. Most
 * messages are like this; they skip the tagging copy on both sides.
 *
 * `seen`: the objects met so far, made at the root's first object child. A value whose objects hold
 * no object (a flat record, an array of numbers: most messages) needs none, and made a `Set` per
 * message for nothing. Below the root it always exists: a parent makes it, with itself in it,
 * before it visits an object child.
 */
function isPlain(value: unknown, depth: number, seen: Set<object> | undefined): boolean {
  switch (typeof value) {
    case 'number':
      return value !== 0 || 1 / value > 0;
    case 'string':
      return value.length <= STRING_INLINE_MAX && isWellFormed(value);
    case 'boolean':
    case 'undefined':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth > MAX_DEPTH || seen?.has(value) === true) return false;
  seen?.add(value);
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Array.prototype) {
    const array = value as unknown[];
    for (let index = 0; index < array.length; index++) {
      const item = array[index];
      if (seen === undefined && typeof item === 'object' && item !== null) seen = new Set([array]);
      if (!isPlain(item, depth + 1, seen)) return false;
    }
    return true;
  }
  if (prototype !== Object.prototype) return false;
  const record = value as Record<string, unknown>;
  if (Object.hasOwn(record, TAG) || Object.hasOwn(record, '__proto__')) return false;
  const keys = Object.keys(record);
  if (keys.length > MAX_MAP_KEYS) return false;
  for (const key of keys) {
    const field = record[key];
    if (seen === undefined && typeof field === 'object' && field !== null) seen = new Set([record]);
    if (!isPlain(field, depth + 1, seen)) return false;
  }
  return true;
}

/** One ArrayBuffer of the value: its raw frame spans every view the value holds on it. */
interface BufferGroup {
  readonly buffer: ArrayBuffer;
  readonly frame: number;
  start: number;
  end: number;
  /** The ArrayBuffer itself is in the value: it travels whole. */
  whole: boolean;
  /** View tags, whose offsets become relative to the frame in {@link Encoder.finish}. */
  readonly views: unknown[][];
}

const DTYPE_BY_PROTOTYPE = new Map<object, Dtype>([
  ...Object.entries(DTYPES).map(([name, type]) => [type.prototype, name as Dtype] as const),
  [Buffer.prototype, 'buffer'],
  [DataView.prototype, 'dataview'],
]);

/** A tag (see format.ts). The literal key, not `[TAG]`: V8 builds literal-keyed objects faster. */
function tag(body: unknown[]): Record<string, unknown> {
  return { '\u0000': body };
}

/** Builds the tagged header tree of a value that is not plain. */
class Encoder {
  readonly #frames: Buffer[] = [];
  /** Objects met so far, by encoding order; `-1 - id` while a registered type's data is being encoded. */
  readonly #ids = new Map<object, number>();
  readonly #groups = new Map<ArrayBuffer, BufferGroup>();
  #nextId = 0;
  /** Kept only when locating a refusal: the path to the value being encoded, one segment per level. */
  readonly #path: string[] | undefined;

  constructor(trackPath: boolean) {
    this.#path = trackPath ? [ROOT] : undefined;
  }

  encode(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'number':
        return value === 0 && 1 / value < 0 ? tag([KIND.MinusZero]) : value;
      case 'string':
        return this.#string(value);
      case 'boolean':
      case 'undefined':
        return value;
      case 'bigint':
        return tag([KIND.BigInt, value.toString(16)]);
      case 'object':
        return value === null ? null : this.#object(value, depth);
      case 'function':
        throw this.#refuse('VALUE_NOT_CLONEABLE', `is a function (${value.name || 'anonymous'}): ${SEND_DATA}`);
      default:
        throw this.#refuse('VALUE_NOT_CLONEABLE', `is a symbol (${String(value)}): ${SEND_DATA}`);
    }
  }

  /** The raw frames, once the whole value is encoded. */
  finish(): Buffer[] {
    for (const group of this.#groups.values()) {
      const start = group.whole ? 0 : Math.floor(Math.min(group.start, group.end) / FRAME_ALIGNMENT) * FRAME_ALIGNMENT;
      const end = group.whole ? group.buffer.byteLength : group.end;
      if (end - start > MAX_FRAME_BYTES) {
        throw this.#refuse(
          'VALUE_TOO_LARGE',
          `holds views spanning ${end - start} bytes of one ArrayBuffer, over the ${MAX_FRAME_BYTES}-byte limit of a raw frame`,
        );
      }
      this.#frames[group.frame] = Buffer.from(group.buffer, start, end - start);
      for (const view of group.views) view[3] = (view[3] as number) - start;
    }
    return this.#frames;
  }

  #child(value: unknown, depth: number, segment: string): unknown {
    const path = this.#path;
    if (path === undefined) return this.encode(value, depth);
    path.push(segment);
    const encoded = this.encode(value, depth);
    path.pop();
    return encoded;
  }

  #refuse(code: ValueErrorCode, reason: string): Refusal {
    return new Refusal(code, reason, this.#path?.join(''));
  }

  #string(value: string): unknown {
    if (value.length <= STRING_INLINE_MAX) return isWellFormed(value) ? value : tag([KIND.String, Buffer.from(value, 'utf16le')]);
    // UTF-8 cannot hold a lone surrogate: such strings travel as their UTF-16 code units.
    const encoding = isWellFormed(value) ? 'utf8' : 'utf16le';
    this.#frames.push(Buffer.from(value, encoding));
    return tag([KIND.String, this.#frames.length - 1, encoding]);
  }

  #object(value: object, depth: number): unknown {
    const known = this.#ids.get(value);
    if (known !== undefined) {
      if (known < 0) {
        throw this.#refuse(
          'VALUE_NOT_CLONEABLE',
          'is the registered-type instance whose encoded data holds it: that data must not refer back to the instance',
        );
      }
      return tag([KIND.Ref, known]);
    }
    if (depth > MAX_DEPTH) throw this.#refuse('VALUE_TOO_LARGE', `nests deeper than ${MAX_DEPTH} levels`);
    const id = this.#nextId++;
    this.#ids.set(value, id);
    const prototype = Object.getPrototypeOf(value);
    if (prototype === Array.prototype) {
      const array = value as unknown[];
      const out = new Array<unknown>(array.length);
      for (let index = 0; index < array.length; index++) out[index] = this.#child(array[index], depth + 1, `[${index}]`);
      return out;
    }
    if (prototype === Object.prototype || prototype === null)
      return this.#plainObject(value as Record<string, unknown>, depth, prototype === null);
    return this.#special(value, prototype as object, id, depth);
  }

  #plainObject(record: Record<string, unknown>, depth: number, nullPrototype: boolean): unknown {
    const keys = Object.keys(record);
    if (nullPrototype || keys.length > MAX_MAP_KEYS || Object.hasOwn(record, TAG) || Object.hasOwn(record, '__proto__')) {
      const values = keys.map((key) => this.#child(record[key], depth + 1, formatKey(key)));
      return tag(nullPrototype ? [KIND.Object, keys, values, true] : [KIND.Object, keys, values]);
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) out[key] = this.#child(record[key], depth + 1, formatKey(key));
    return out;
  }

  #special(value: object, prototype: object, id: number, depth: number): unknown {
    const registered = valueTypeOf(prototype);
    if (registered !== undefined) {
      this.#ids.set(value, -1 - id);
      const data = this.#child(registered.encode(value), depth + 1, `<${registered.name} data>`);
      this.#ids.set(value, id);
      return tag([KIND.User, registered.name, data]);
    }
    const dtype = DTYPE_BY_PROTOTYPE.get(prototype);
    if (dtype !== undefined) return this.#view(value as ArrayBufferView, dtype);
    switch (prototype) {
      case ArrayBuffer.prototype: {
        const group = this.#group(value as ArrayBuffer);
        group.whole = true;
        return tag([KIND.ArrayBuffer, group.frame]);
      }
      case Date.prototype:
        return tag([KIND.Date, (value as Date).getTime()]);
      case RegExp.prototype:
        return tag([KIND.RegExp, (value as RegExp).source, (value as RegExp).flags]);
      case Map.prototype: {
        const entries: unknown[] = [];
        let index = 0;
        for (const [key, item] of value as Map<unknown, unknown>) {
          entries.push(this.#child(key, depth + 1, `.keys()[${index}]`), this.#child(item, depth + 1, `.get(${describeKey(key, index)})`));
          index++;
        }
        return tag([KIND.Map, entries]);
      }
      case Set.prototype: {
        const items: unknown[] = [];
        for (const item of value as Set<unknown>) items.push(this.#child(item, depth + 1, `.values()[${items.length}]`));
        return tag([KIND.Set, items]);
      }
      case Number.prototype:
        return tag([KIND.Boxed, this.encode(Number.prototype.valueOf.call(value), depth + 1)]);
      case String.prototype:
        return tag([KIND.Boxed, this.encode(String.prototype.valueOf.call(value), depth + 1)]);
      case Boolean.prototype:
        return tag([KIND.Boxed, Boolean.prototype.valueOf.call(value)]);
      case BigInt.prototype:
        return tag([KIND.Boxed, this.encode(BigInt.prototype.valueOf.call(value), depth + 1)]);
    }
    if (value instanceof Error || isNativeError(value)) return this.#error(value as Error, depth);
    throw this.#refuse('VALUE_NOT_CLONEABLE', describeUncloneable(value, prototype));
  }

  #error(error: Error, depth: number): unknown {
    // Own enumerable properties (code, details, errno...) travel with name, message, stack and cause.
    const props = Object.fromEntries(
      Object.keys(error)
        .filter((key) => key !== 'message' && key !== 'stack' && key !== 'cause')
        .map((key) => [key, (error as unknown as Record<string, unknown>)[key]]),
    );
    const body: unknown[] = [
      KIND.Error,
      String(error.name),
      String(error.message),
      typeof error.stack === 'string' ? error.stack : undefined,
      this.#child(props, depth + 1, ''),
      isVfError(error),
    ];
    if (Object.hasOwn(error, 'cause')) body.push(this.#child(error.cause, depth + 1, '.cause'));
    return tag(body);
  }

  #view(view: ArrayBufferView, dtype: Dtype): unknown {
    const buffer = view.buffer;
    if (isSharedArrayBuffer(buffer)) {
      throw this.#refuse(
        'VALUE_NOT_CLONEABLE',
        `is a ${view.constructor.name} over a SharedArrayBuffer, which processes cannot share: copy it (.slice())`,
      );
    }
    if (view.byteLength > MAX_FRAME_BYTES) {
      throw this.#refuse('VALUE_TOO_LARGE', `holds ${view.byteLength} bytes, over the ${MAX_FRAME_BYTES}-byte limit of a raw frame`);
    }
    const group = this.#group(buffer as ArrayBuffer);
    const start = view.byteOffset;
    const end = start + view.byteLength;
    if (start < group.start) group.start = start;
    if (end > group.end) group.end = end;
    const body: unknown[] = [KIND.View, dtype, group.frame, start, view.byteLength];
    group.views.push(body);
    return tag(body);
  }

  #group(buffer: ArrayBuffer): BufferGroup {
    let group = this.#groups.get(buffer);
    if (group === undefined) {
      if (isSharedArrayBuffer(buffer))
        throw this.#refuse('VALUE_NOT_CLONEABLE', 'is a SharedArrayBuffer, which processes cannot share: copy it (.slice())');
      if (buffer.byteLength > MAX_FRAME_BYTES) {
        throw this.#refuse(
          'VALUE_TOO_LARGE',
          `is an ArrayBuffer of ${buffer.byteLength} bytes, over the ${MAX_FRAME_BYTES}-byte limit of a raw frame`,
        );
      }
      group = { buffer, frame: this.#frames.length, start: Number.POSITIVE_INFINITY, end: 0, whole: false, views: [] };
      this.#frames.push(EMPTY);
      this.#groups.set(buffer, group);
    }
    return group;
  }
}

const EMPTY = Buffer.alloc(0);

const SEND_DATA =
  'functions and symbols cannot travel between tasks (the structured-clone rules); send data, or a class registered with registerValueType()';

/** Why an object that is not plain data, a built-in value or a registered type is refused. */
function describeUncloneable(value: object, prototype: object): string {
  if (value instanceof Promise) return 'is a Promise: await it and send its result';
  for (const weak of [WeakMap, WeakSet, WeakRef, FinalizationRegistry]) {
    if (value instanceof weak) return `is a ${weak.name}, which holds its contents weakly and cannot be copied`;
  }
  if (isSharedArrayBuffer(value)) return 'is a SharedArrayBuffer, which processes cannot share: copy it (.slice())';
  const name = (prototype as { constructor?: { name?: unknown } }).constructor?.name;
  const className = typeof name === 'string' && name !== '' ? name : 'anonymous';
  return (
    `is an instance of class ${className}, which is not registered: it would arrive as a plain object without its methods. ` +
    `Call registerValueType({ name: '${className}', type: ${className}, encode, decode }) at the top level of the flow module, or send a plain object`
  );
}

/** `.name`, or `["odd key"]` when the key is not an identifier. */
function formatKey(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** A Map key as written in a path: the key itself when primitive, else its position. */
function describeKey(key: unknown, index: number): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'number' || typeof key === 'boolean') return String(key);
  return `<key ${index}>`;
}

/** The header is over its limit: say how large, and which part of the value makes most of it. */
function tooLargeHeader(root: unknown, bytes: number): Refusal {
  let path = ROOT;
  let node = root;
  let size = bytes;
  // Descend while one child holds most of the bytes; past a few thousand children the node itself is the answer.
  for (;;) {
    const isMap =
      typeof node === 'object' && node !== null && Object.getPrototypeOf(node) === Object.prototype && !Object.hasOwn(node, TAG);
    const count = Array.isArray(node) ? node.length : isMap ? Object.keys(node as object).length : 0;
    if (count === 0 || count > 4096) break;
    const children: Array<[string, unknown]> = Array.isArray(node)
      ? node.map((item, index): [string, unknown] => [`[${index}]`, item])
      : Object.entries(node as object).map(([key, item]): [string, unknown] => [formatKey(key), item]);
    let best: { segment: string; node: unknown; size: number } | undefined;
    for (const [segment, child] of children) {
      const childSize = packr.pack(child).length;
      if (best === undefined || childSize > best.size) best = { segment, node: child, size: childSize };
    }
    if (best === undefined || best.size < size / 2) break;
    path += best.segment;
    node = best.node;
    size = best.size;
  }
  const what = Array.isArray(node) ? `an array of ${node.length} elements, ` : '';
  return new Refusal(
    'VALUE_TOO_LARGE',
    `${what}${mebibytes(size)} MiB of the ${mebibytes(bytes)} MiB header, over its ${mebibytes(MAX_HEADER_BYTES)} MiB limit. ` +
      `The header holds everything but typed arrays, ArrayBuffers and strings over ${STRING_INLINE_MAX} characters, which travel as raw frames: ` +
      'put large numeric arrays in typed arrays (e.g. Float64Array.from(array))',
    path,
  );
}

function mebibytes(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
