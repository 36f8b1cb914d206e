import { AllocationError, describeReceived, FlowValidationError, TaskFailedError, ValueError, VfError } from '../errors.js';
import { BYTES_PER_ELEMENT, DTYPES, type Dtype, FORMAT, KIND, MAX_DEPTH, MAX_HEADER_BYTES, packr, TAG, WireError } from './format.js';
import { valueTypeNamed } from './valueTypes.js';

/**
 * The receiving half of the value model: rebuilds a value from `[header, ...raw frames]` made by
 * `encodeValue`. Everything is checked before use; malformed or inconsistent input throws
 * {@link WireError} (never another error, never unbounded memory), a type this process has not
 * registered throws a {@link ValueError}.
 */
export function decodeValue(frames: readonly Buffer[]): unknown {
  const [header, ...raw] = frames;
  if (header === undefined) throw new WireError('value has no header frame');
  if (header.length > MAX_HEADER_BYTES) throw new WireError(`value header of ${header.length} bytes exceeds ${MAX_HEADER_BYTES}`);
  let unpacked: unknown;
  try {
    unpacked = packr.unpack(header);
  } catch (error) {
    throw new WireError(`value header is not valid MessagePack: ${(error as Error).message}`);
  }
  if (!Array.isArray(unpacked) || unpacked.length !== 2) throw new WireError('value header must be [format, root]');
  const [format, root] = unpacked as [unknown, unknown];
  if (format === FORMAT.Plain) {
    if (raw.length > 0) throw new WireError(`a plain value has no raw frames, got ${raw.length}`);
    return root;
  }
  if (format !== FORMAT.Tagged) throw new WireError(`unknown value format ${describeReceived(format)}`);
  const decoder = new Decoder(raw);
  const value = decoder.decode(root, 0);
  decoder.checkAllFramesUsed();
  return value;
}

/** Receivers accept this deep (senders stop at {@link MAX_DEPTH}); deeper is a malformed header. */
const MAX_RECEIVED_DEPTH = 2 * MAX_DEPTH;
/** Placeholder for a registered-type instance whose data is still being decoded: not referable yet. */
const PENDING = Symbol('pending');
const HEX = /^-?[0-9a-f]+$/;

/** Error classes rebuilt by name; any other name arrives as an Error with that name. */
const ERROR_CLASSES: Readonly<Record<string, new (...args: never[]) => Error>> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
  VfError,
  FlowValidationError,
  AllocationError,
  TaskFailedError,
  ValueError,
  WireError,
};
const VF_ERROR_BRAND = Symbol.for('vf.error');

class Decoder {
  readonly #raw: readonly Buffer[];
  /** Objects rebuilt so far, in encoding order: what references point at. */
  readonly #objects: unknown[] = [];
  /** How each raw frame was used: as an ArrayBuffer (views share it) or as a string. */
  readonly #frameUse: Array<ArrayBuffer | 'string' | undefined>;

  constructor(raw: readonly Buffer[]) {
    this.#raw = raw;
    this.#frameUse = new Array(raw.length);
  }

  decode(node: unknown, depth: number): unknown {
    if (node === null || typeof node !== 'object') return node;
    if (depth > MAX_RECEIVED_DEPTH) throw new WireError(`value nests deeper than ${MAX_RECEIVED_DEPTH} levels`);
    if (Array.isArray(node)) {
      this.#objects.push(node);
      for (let index = 0; index < node.length; index++) node[index] = this.decode(node[index], depth + 1);
      return node;
    }
    if (Object.getPrototypeOf(node) !== Object.prototype) throw new WireError('value header holds a MessagePack extension');
    const record = node as Record<string, unknown>;
    const body = record[TAG];
    if (body === undefined) {
      this.#objects.push(record);
      for (const key of Object.keys(record)) record[key] = this.decode(record[key], depth + 1);
      return record;
    }
    if (!Array.isArray(body) || body.length === 0) throw new WireError('malformed tag');
    return this.#tagged(body, depth);
  }

  checkAllFramesUsed(): void {
    for (let index = 0; index < this.#raw.length; index++) {
      if (this.#frameUse[index] === undefined) throw new WireError(`raw frame ${index} is not referenced by the header`);
    }
  }

  #tagged(body: unknown[], depth: number): unknown {
    const kind = body[0];
    switch (kind) {
      case KIND.Ref: {
        const index = body[1];
        if (!isIndex(index, this.#objects.length) || this.#objects[index] === PENDING)
          throw new WireError(`reference ${describeReceived(index)} points at no object`);
        return this.#objects[index];
      }
      case KIND.MinusZero:
        return -0;
      case KIND.BigInt: {
        const hex = body[1];
        if (typeof hex !== 'string' || !HEX.test(hex)) throw new WireError('malformed BigInt');
        return hex.startsWith('-') ? -BigInt(`0x${hex.slice(1)}`) : BigInt(`0x${hex}`);
      }
      case KIND.String:
        return this.#string(body);
      case KIND.Date: {
        const time = body[1];
        if (typeof time !== 'number') throw new WireError('malformed Date');
        return this.#keep(new Date(time));
      }
      case KIND.RegExp: {
        const [, source, flags] = body;
        if (typeof source !== 'string' || typeof flags !== 'string') throw new WireError('malformed RegExp');
        try {
          return this.#keep(new RegExp(source, flags));
        } catch {
          throw new WireError('malformed RegExp');
        }
      }
      case KIND.Map: {
        const entries = body[1];
        if (!Array.isArray(entries) || entries.length % 2 !== 0) throw new WireError('malformed Map');
        const map = this.#keep(new Map<unknown, unknown>());
        for (let index = 0; index < entries.length; index += 2)
          map.set(this.decode(entries[index], depth + 1), this.decode(entries[index + 1], depth + 1));
        return map;
      }
      case KIND.Set: {
        const items = body[1];
        if (!Array.isArray(items)) throw new WireError('malformed Set');
        const set = this.#keep(new Set<unknown>());
        for (const item of items) set.add(this.decode(item, depth + 1));
        return set;
      }
      case KIND.Error:
        return this.#error(body, depth);
      case KIND.ArrayBuffer: {
        if (body.length !== 2) throw new WireError('malformed ArrayBuffer');
        return this.#keep(this.#buffer(body[1]));
      }
      case KIND.View:
        return this.#view(body);
      case KIND.Object: {
        const [, keys, values, nullPrototype] = body;
        if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length) throw new WireError('malformed object');
        const record = this.#keep((nullPrototype === true ? Object.create(null) : {}) as Record<string, unknown>);
        for (let index = 0; index < keys.length; index++) {
          const key = keys[index];
          if (typeof key !== 'string') throw new WireError('malformed object key');
          // defineProperty, not assignment: the key may be `__proto__`.
          Object.defineProperty(record, key, {
            value: this.decode(values[index], depth + 1),
            writable: true,
            enumerable: true,
            configurable: true,
          });
        }
        return record;
      }
      case KIND.User:
        return this.#user(body, depth);
      case KIND.Boxed: {
        const primitive = this.decode(body[1], depth + 1);
        const type = typeof primitive;
        if (type !== 'number' && type !== 'string' && type !== 'boolean' && type !== 'bigint')
          throw new WireError('malformed boxed primitive');
        return this.#keep(Object(primitive) as object);
      }
      default:
        throw new WireError(`unknown tag ${JSON.stringify(describeReceived(kind))}`);
    }
  }

  /** Numbers an object, so that later references can point at it. */
  #keep<T>(object: T): T {
    this.#objects.push(object);
    return object;
  }

  #string(body: unknown[]): string {
    const [, source, encoding] = body;
    if (source instanceof Uint8Array && body.length === 2) {
      if (source.length % 2 !== 0) throw new WireError('malformed UTF-16 string');
      return Buffer.from(source.buffer, source.byteOffset, source.length).toString('utf16le');
    }
    if ((encoding !== 'utf8' && encoding !== 'utf16le') || !isIndex(source, this.#raw.length) || this.#frameUse[source] !== undefined) {
      throw new WireError('malformed string frame reference');
    }
    this.#frameUse[source] = 'string';
    const frame = this.#raw[source] as Buffer;
    if (encoding === 'utf16le' && frame.length % 2 !== 0) throw new WireError('malformed UTF-16 string frame');
    return frame.toString(encoding);
  }

  /** Raw frame `index` as an ArrayBuffer of exactly its bytes, shared by every view on it. */
  #buffer(index: unknown): ArrayBuffer {
    if (!isIndex(index, this.#raw.length))
      throw new WireError(`frame reference ${describeReceived(index)} is out of range (0..${this.#raw.length - 1})`);
    const used = this.#frameUse[index];
    if (used === 'string') throw new WireError(`frame ${index} is used as a string and as a buffer`);
    if (used !== undefined) return used;
    const frame = this.#raw[index] as Buffer;
    // ZeroMQ hands each frame its own memory: no copy. A slice of a larger buffer is copied, so the
    // receiver never sees bytes outside its frame.
    const exact = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength && frame.buffer instanceof ArrayBuffer;
    const buffer = exact
      ? (frame.buffer as ArrayBuffer)
      : (frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer);
    this.#frameUse[index] = buffer;
    return buffer;
  }

  #view(body: unknown[]): ArrayBufferView {
    const [, dtype, frame, offset, byteLength] = body;
    if (typeof dtype !== 'string' || !Object.hasOwn(BYTES_PER_ELEMENT, dtype))
      throw new WireError(`unknown dtype ${describeReceived(dtype)}`);
    const buffer = this.#buffer(frame);
    const size = BYTES_PER_ELEMENT[dtype as Dtype];
    if (!isIndex(offset, buffer.byteLength + 1) || !isIndex(byteLength, buffer.byteLength - offset + 1)) {
      throw new WireError(
        `view of ${describeReceived(byteLength)} bytes at ${describeReceived(offset)} does not fit frame ${describeReceived(frame)} (${buffer.byteLength} bytes)`,
      );
    }
    if (offset % size !== 0 || byteLength % size !== 0)
      throw new WireError(`${dtype} view at ${offset} of ${byteLength} bytes is misaligned`);
    if (dtype === 'buffer') return this.#keep(Buffer.from(buffer, offset, byteLength));
    if (dtype === 'dataview') return this.#keep(new DataView(buffer, offset, byteLength));
    return this.#keep(new DTYPES[dtype as keyof typeof DTYPES](buffer, offset, byteLength / size));
  }

  #error(body: unknown[], depth: number): Error {
    const [, name, message, stack, props, isVf] = body;
    if (
      typeof name !== 'string' ||
      typeof message !== 'string' ||
      (stack !== undefined && typeof stack !== 'string') ||
      (body.length !== 6 && body.length !== 7)
    ) {
      throw new WireError('malformed Error');
    }
    // Built without running a constructor (vf's take other arguments), with the class's prototype.
    const type = Object.hasOwn(ERROR_CLASSES, name) ? (ERROR_CLASSES[name] as new (...args: never[]) => Error) : Error;
    const error = this.#keep(Reflect.construct(Error, [message], type) as Error);
    if (stack === undefined) delete error.stack;
    else Object.defineProperty(error, 'stack', { value: stack, writable: true, enumerable: false, configurable: true });
    if (isVf === true) Object.defineProperty(error, VF_ERROR_BRAND, { value: true, writable: false, enumerable: true, configurable: true });
    const decodedProps = this.decode(props, depth + 1);
    if (typeof decodedProps !== 'object' || decodedProps === null || Array.isArray(decodedProps))
      throw new WireError('malformed Error properties');
    for (const key of Object.keys(decodedProps)) {
      Object.defineProperty(error, key, {
        value: (decodedProps as Record<string, unknown>)[key],
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    // After the own properties, which may hold the name themselves (`this.name = ...` in a constructor).
    if (error.name !== name) Object.defineProperty(error, 'name', { value: name, writable: true, enumerable: false, configurable: true });
    if (body.length === 7) {
      Object.defineProperty(error, 'cause', {
        value: this.decode(body[6], depth + 1),
        writable: true,
        enumerable: false,
        configurable: true,
      });
    }
    return error;
  }

  #user(body: unknown[], depth: number): object {
    const [, name, data] = body;
    if (typeof name !== 'string' || body.length !== 3) throw new WireError('malformed registered-type value');
    const type = valueTypeNamed(name);
    if (type === undefined) {
      throw new ValueError(
        'VALUE_TYPE_UNKNOWN',
        `received a value of registered type "${name}", which this process has not registered: call registerValueType({ name: '${name}', ... }) ` +
          'at the top level of the flow module (or a module it imports), so that every task process registers it',
        { details: { type: name } },
      );
    }
    const slot = this.#objects.length;
    this.#objects.push(PENDING);
    const decoded = this.decode(data, depth + 1);
    let instance: object;
    try {
      instance = type.decode(decoded);
    } catch (error) {
      throw new ValueError(
        'VALUE_DECODE_FAILED',
        `decode of registered type "${name}" threw: ${(error as Error)?.message ?? String(error)}`,
        {
          cause: error,
          details: { type: name },
        },
      );
    }
    this.#objects[slot] = instance;
    return instance;
  }
}

function isIndex(value: unknown, length: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < length;
}
