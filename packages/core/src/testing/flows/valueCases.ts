/**
 * The value matrix: values every engine must deliver exactly (the rules are in docs/api.md,
 * "Values"), the values every engine must refuse at the sender, and {@link describeValue}, which
 * writes a value down so that two processes can compare what was sent with what arrived.
 */
import { createHash } from 'node:crypto';
import { isVfError, registerValueType, ValueError, VfError } from '../../index.js';

/** A registered class: it must arrive as a Point, methods included. */
export class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}

  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

// At the top level, as the docs ask: every task process imports this module through its flow module.
registerValueType({
  name: 'vf.test.Point',
  type: Point,
  encode: (point): [number, number] => [point.x, point.y],
  decode: ([x, y]) => new Point(x, y),
});

/** A registered class whose `decode` always throws: it fails the node that receives one. */
export class Undecodable {
  readonly field = 1;
}

registerValueType({
  name: 'vf.test.Undecodable',
  type: Undecodable,
  encode: (): number => 1,
  decode: (): Undecodable => {
    throw new Error('Undecodable cannot be rebuilt');
  },
});

/** A class nobody registered: refused. */
export class Unregistered {
  readonly field = 1;
}

/** Errors with fixed stacks, so that the sender's and the receiver's descriptions match. */
function withStack<T extends Error>(error: T, stack: string): T {
  error.stack = stack;
  return error;
}

class CustomError extends Error {
  override name = 'CustomError';
}

/** Name and builder of each value that must arrive exactly. */
export const VALUE_CASES: ReadonlyArray<{ readonly name: string; readonly make: () => unknown }> = [
  { name: 'BigInt of any size', make: () => [12345678901234567890n, 5n, -(2n ** 200n), 0n, -1n] },
  {
    name: 'numbers, -0 and NaN',
    make: () => [-0, 0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53 + 2, 5e-324, 0.1, -2147483649, 1e21],
  },
  { name: 'undefined', make: () => ({ a: undefined, list: [undefined, 1], nested: { b: undefined } }) },
  {
    name: 'strings, lone surrogates included',
    make: () => ['a\ud800b', '\udc00', '😀', '', 'é', 'x'.repeat(70_000), `${'\ud800'.repeat(70_000)}tail`],
  },
  { name: 'a 20 MB string', make: () => 'y'.repeat(20 * 1024 * 1024) },
  { name: 'a 3-million-element array of small numbers', make: () => Array.from({ length: 3_000_000 }, (_, index) => index % 100) },
  { name: 'Date and RegExp', make: () => [new Date(1_700_000_000_123), new Date(Number.NaN), /a+b/giu, /^x$/m] },
  {
    name: 'Map and Set',
    make: () =>
      new Map<unknown, unknown>([
        ['a', 1],
        [{ key: 1 }, new Set([1, 'two', 3n, new Date(0)])],
        [2, new Map([[null, undefined]])],
      ]),
  },
  {
    name: 'ArrayBuffer and DataView',
    make: () => {
      const buffer = new Uint8Array(Array.from({ length: 16 }, (_, index) => index * 3)).buffer;
      return { buffer, view: new DataView(buffer, 4, 8) };
    },
  },
  {
    name: 'every typed array',
    make: () => [
      Uint8Array.of(1, 2, 255),
      Uint8ClampedArray.of(0, 128, 255),
      Int8Array.of(-128, 0, 127),
      Uint16Array.of(0, 65535),
      Int16Array.of(-32768, 32767),
      Uint32Array.of(0, 2 ** 32 - 1),
      Int32Array.of(-(2 ** 31), 2 ** 31 - 1),
      Float32Array.of(1.5, Number.NaN, -0),
      Float64Array.of(Math.PI, -0, Number.POSITIVE_INFINITY),
      BigInt64Array.of(-5n, 2n ** 63n - 1n),
      BigUint64Array.of(2n ** 64n - 1n),
      Buffer.from('a Node Buffer'),
      new Float32Array(1 << 20).map((_, index) => index / 7),
    ],
  },
  {
    name: 'views on one buffer stay views on one buffer',
    make: () => {
      const buffer = new ArrayBuffer(64);
      const bytes = new Uint8Array(buffer, 3, 40);
      bytes.forEach((_, index) => {
        bytes[index] = index;
      });
      // Overlapping views of three element types; no ArrayBuffer in the value itself.
      return { bytes, floats: new Float32Array(buffer, 8, 4), tail: new Uint16Array(buffer, 20, 6), again: bytes };
    },
  },
  {
    name: 'Error with name, message, stack, cause and code',
    make: () => {
      const cause = withStack(new RangeError('inner'), 'RangeError: inner\n    at fixture (inner.ts:1:1)');
      const error = withStack(new TypeError('outer', { cause }), 'TypeError: outer\n    at fixture (outer.ts:2:2)');
      Object.assign(error, { code: 'E_OUTER', errno: -2 });
      const loop = withStack(new Error('loop'), 'Error: loop');
      loop.cause = loop;
      const vf = withStack(new ValueError('VALUE_TOO_LARGE', 'a vf error', { details: { path: 'output' } }), 'ValueError: a vf error');
      const base = withStack(new VfError('SOME_CODE', 'base'), 'VfError: base');
      const custom = withStack(new CustomError('custom'), 'CustomError: custom');
      return [error, loop, vf, base, custom, withStack(new Error('no cause'), 'Error: no cause')];
    },
  },
  {
    name: 'shared and circular references',
    make: () => {
      const shared = { n: 1 };
      const root: Record<string, unknown> = { a: shared, b: shared, list: [shared, shared] };
      root.self = root;
      const array: unknown[] = [1];
      array.push(array);
      root.array = array;
      const map = new Map<string, unknown>();
      map.set('itself', map);
      root.map = map;
      const set = new Set<unknown>();
      set.add(set);
      root.set = set;
      return root;
    },
  },
  {
    name: 'a registered class arrives as an instance of it',
    make: () => {
      const point = new Point(3, 4);
      return { point, again: point, list: [new Point(-0, 1.5)] };
    },
  },
  {
    name: 'an object with 70,000 keys',
    make: () => Object.fromEntries(Array.from({ length: 70_000 }, (_, index) => [`k${index}`, index])),
  },
  {
    name: 'odd keys and prototypes',
    make: () => {
      const bare = Object.create(null) as Record<string, unknown>;
      bare.inside = 1;
      return {
        parsed: JSON.parse('{"__proto__": {"x": 1}, "\\u0000": 2, "constructor": 3}') as unknown,
        bare,
        10: 'ten',
        [Symbol('skipped')]: 1,
      };
    },
  },
  {
    name: 'boxed primitives',
    make: () => [new Number(-0), new String('boxed'), new Boolean(false), Object(7n)],
  },
];

/** Name, builder, expected error code and path of each value that must be refused by its sender. */
export const REFUSED_CASES: Readonly<Record<string, { readonly make: () => unknown; readonly code: string; readonly path: string }>> = {
  function: {
    make: () => ({ detections: [{}, {}, {}, { callback: () => 0 }] }),
    code: 'VALUE_NOT_CLONEABLE',
    path: 'output.detections[3].callback',
  },
  symbol: { make: () => ({ tags: new Map([['kind', Symbol('car')]]) }), code: 'VALUE_NOT_CLONEABLE', path: 'output.tags.get("kind")' },
  unregisteredClass: { make: () => ({ box: new Unregistered() }), code: 'VALUE_NOT_CLONEABLE', path: 'output.box' },
  promise: { make: () => ({ pending: Promise.resolve(1) }), code: 'VALUE_NOT_CLONEABLE', path: 'output.pending' },
  tooLarge: {
    make: () => ({ points: Array.from({ length: 3_000_000 }, (_, index) => index + 0.5) }),
    code: 'VALUE_TOO_LARGE',
    path: 'output.points',
  },
};

/**
 * Writes a value down, type by type, with what the value model keeps: -0, BigInt, every string code
 * unit, prototypes, shared and circular references (`#n` is the n-th object met), views'
 * element types, contents and positions relative to the other views on their buffer. Two values
 * that the model says are equal have the same description.
 */
export function describeValue(value: unknown): string {
  const ids = new Map<object, number>();
  const buffers = new Map<ArrayBufferLike, { readonly id: number; readonly base: number }>();
  const bufferOf = (buffer: ArrayBufferLike, offset: number) => {
    let entry = buffers.get(buffer);
    if (entry === undefined) {
      entry = { id: buffers.size, base: offset };
      buffers.set(buffer, entry);
    }
    return entry;
  };
  const walk = (item: unknown): string => {
    switch (typeof item) {
      case 'number':
        return Object.is(item, -0) ? '-0' : String(item);
      case 'bigint':
        return `${item}n`;
      case 'string':
        return item.length > 1000 ? `string(${item.length}, ${digest(Buffer.from(item, 'utf16le'))})` : JSON.stringify(item);
      case 'object':
        if (item === null) return 'null';
        break;
      default:
        return `${typeof item}(${String(item)})`;
    }
    const known = ids.get(item);
    if (known !== undefined) return `#${known}`;
    const id = ids.size;
    ids.set(item, id);
    const prototype = Object.getPrototypeOf(item) as { constructor?: { name?: string } } | null;
    const kind = `#${id}=${prototype?.constructor?.name ?? 'null-prototype'}`;
    if (Array.isArray(item)) {
      if (item.length > 10_000 && item.every((element) => typeof element === 'number')) {
        return `${kind}(${item.length} numbers, ${digest(Buffer.from(Float64Array.from(item).buffer))})`;
      }
      return `${kind}[${item.map(walk).join(', ')}]`;
    }
    if (ArrayBuffer.isView(item)) {
      const { id: bufferId, base } = bufferOf(item.buffer, item.byteOffset);
      const bytes = Buffer.from(item.buffer, item.byteOffset, item.byteLength);
      return `${kind}(buffer ${bufferId} at ${item.byteOffset - base}, ${item.byteLength} bytes ${bytes.length > 64 ? digest(bytes) : bytes.toString('hex')})`;
    }
    if (item instanceof ArrayBuffer) {
      const { id: bufferId } = bufferOf(item, 0);
      return `${kind}(buffer ${bufferId}, ${item.byteLength} bytes ${Buffer.from(item).toString('hex')})`;
    }
    if (item instanceof Date) return `${kind}(${item.getTime()})`;
    if (item instanceof RegExp) return `${kind}(${String(item)})`;
    if (item instanceof Map) return `${kind}{${[...item].map(([key, entry]) => `${walk(key)} => ${walk(entry)}`).join(', ')}}`;
    if (item instanceof Set) return `${kind}{${[...item].map(walk).join(', ')}}`;
    if (item instanceof Error) {
      const cause = Object.hasOwn(item, 'cause') ? `, cause ${walk(item.cause)}` : '';
      const fields = [
        `name ${JSON.stringify(item.name)}`,
        `message ${JSON.stringify(item.message)}`,
        `stack ${JSON.stringify(item.stack)}`,
        `vf ${isVfError(item)}`,
      ];
      const own = Object.keys(item).filter((key) => key !== 'message' && key !== 'stack' && key !== 'cause');
      const props = own.map((key) => `${JSON.stringify(key)}: ${walk((item as unknown as Record<string, unknown>)[key])}`);
      return `${errorClass(item)}(${fields.join(', ')}, own {${props.join(', ')}}${cause})`;
    }
    if (item instanceof Number || item instanceof String || item instanceof Boolean || item instanceof BigInt)
      return `${kind}(${walk(item.valueOf())})`;
    // Duck-typed: a build may hold two copies of this module, hence of Point.
    const norm = (item as { norm?: unknown }).norm;
    const methods = typeof norm === 'function' ? `, norm ${String(norm.call(item))}` : '';
    return `${kind}{${Object.keys(item)
      .map((key) => `${JSON.stringify(key)}: ${walk((item as Record<string, unknown>)[key])}`)
      .join(', ')}${methods}}`;
  };
  return walk(value);
}

function digest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** The nearest class the model restores (standard errors and vf's own); subclasses of others arrive as these. */
function errorClass(error: Error): string {
  const restored = new Set([
    'Error',
    'EvalError',
    'RangeError',
    'ReferenceError',
    'SyntaxError',
    'TypeError',
    'URIError',
    'VfError',
    'ValueError',
  ]);
  for (let prototype = Object.getPrototypeOf(error); prototype !== null; prototype = Object.getPrototypeOf(prototype)) {
    const name = (prototype as { constructor?: { name?: string } }).constructor?.name;
    if (name !== undefined && restored.has(name) && Object.hasOwn(prototype, 'constructor')) return name;
  }
  return 'Error';
}
