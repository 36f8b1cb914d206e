import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isVfError, TaskFailedError, ValueError, VfError } from '../errors.js';
import { describeValue, Point, REFUSED_CASES, VALUE_CASES } from '../testing/flows/valueCases.js';
import { decodeValue, encodeValue, MAX_DEPTH, MAX_HEADER_BYTES, packHeader, WireError } from './codec.js';
import { registerValueType } from './valueTypes.js';

/** What a receiver gets: encoded, then decoded from copies of the frames (as if they had crossed a socket). */
function roundTrip<T>(value: T): T {
  const frames = encodeValue(value).map((frame) => {
    const copy = Buffer.allocUnsafeSlow(frame.length);
    frame.copy(copy);
    return copy;
  });
  return decodeValue(frames) as T;
}

/** The ValueError `encodeValue(value, node)` throws. */
function refusal(value: unknown, node = 'maker'): ValueError {
  try {
    encodeValue(value, node);
  } catch (error) {
    if (error instanceof ValueError) return error;
    throw error;
  }
  throw new Error('the value was not refused');
}

/** A tagged header (format 2) around `root`. */
function tagged(root: unknown, ...raw: Buffer[]): Buffer[] {
  return [packHeader([2, root]), ...raw];
}

describe('encodeValue / decodeValue: what round-trips exactly', () => {
  it.each(VALUE_CASES.map((valueCase) => [valueCase.name, valueCase]))('%s', (_name, valueCase) => {
    expect(describeValue(roundTrip(valueCase.make()))).toBe(describeValue(valueCase.make()));
  });

  it('BigInt stays BigInt, whatever its size (was: a lossy number, 5n became 5)', () => {
    const [big, small] = roundTrip([12345678901234567890n, 5n]);
    expect(big).toBe(12345678901234567890n);
    expect(small).toBe(5n);
  });

  it('-0, NaN, undefined and lone surrogates survive (were: 0, U+FFFD)', () => {
    const back = roundTrip({ zero: -0, nan: Number.NaN, missing: undefined, lone: 'a\ud800b' });
    expect(Object.is(back.zero, -0)).toBe(true);
    expect(back.nan).toBeNaN();
    expect(Object.hasOwn(back, 'missing')).toBe(true);
    expect(back.lone.charCodeAt(1)).toBe(0xd800);
  });

  it('Date, Map, Set and RegExp arrive as themselves (were: the flow failed)', () => {
    const back = roundTrip({ when: new Date(5), map: new Map([[1, 'a']]), set: new Set(['b']), pattern: /x+/gi });
    expect(back.when).toBeInstanceOf(Date);
    expect(back.when.getTime()).toBe(5);
    expect(back.map.get(1)).toBe('a');
    expect(back.set.has('b')).toBe(true);
    expect(back.pattern).toEqual(/x+/gi);
  });

  it('ArrayBuffer, DataView and Error arrive as themselves (were: {})', () => {
    const buffer = Uint8Array.of(1, 2, 3, 4).buffer;
    const error = Object.assign(new TypeError('bad', { cause: new Error('inner') }), { code: 'E_BAD' });
    const back = roundTrip({ buffer, view: new DataView(buffer, 1, 2), error });
    expect(back.buffer).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(back.buffer)]).toEqual([1, 2, 3, 4]);
    expect(back.view).toBeInstanceOf(DataView);
    expect(back.view.buffer).toBe(back.buffer);
    expect(back.view.getUint8(0)).toBe(2);
    expect(back.error).toBeInstanceOf(TypeError);
    expect(back.error).toMatchObject({ name: 'TypeError', message: 'bad', code: 'E_BAD', stack: error.stack });
    expect((back.error.cause as Error).message).toBe('inner');
  });

  it('vf errors come back as their class, recognised by isVfError', () => {
    const back = roundTrip(new TaskFailedError('node', 2, new VfError('INNER', 'inner')));
    expect(back).toBeInstanceOf(TaskFailedError);
    expect(isVfError(back)).toBe(true);
    expect(back).toMatchObject({ code: 'TASK_FAILED', nodeName: 'node', taskIndex: 2 });
    expect(isVfError(back.cause)).toBe(true);
  });

  it('views on one buffer arrive on one buffer: a write through one shows through the others', () => {
    const buffer = new ArrayBuffer(32);
    const back = roundTrip({ bytes: new Uint8Array(buffer, 4, 16), words: new Uint32Array(buffer, 8, 2) });
    expect(back.words.buffer).toBe(back.bytes.buffer);
    back.words[0] = 0x01020304;
    expect(back.bytes[4]).toBe(0x04);
  });

  it('shared and circular references keep their shape', () => {
    const shared = { n: 1 };
    const root: Record<string, unknown> = { a: shared, b: shared };
    root.self = root;
    const back = roundTrip(root);
    expect(back.a).toBe(back.b);
    expect(back.self).toBe(back);
  });

  it('shared and circular references keep their shape wherever they first appear', () => {
    // The encoder tracks objects only from the root's first object child on (valueEncoder's isPlain).
    const leaf = { n: 1 };
    const inArray = roundTrip([1, leaf, 'x', leaf]);
    expect(inArray[3]).toBe(inArray[1]);
    const array: unknown[] = [1, 2];
    array.push(array);
    const selfArray = roundTrip(array);
    expect(selfArray[2]).toBe(selfArray);
    const record: Record<string, unknown> = { n: 1 };
    record.self = record;
    const selfRecord = roundTrip(record);
    expect(selfRecord.self).toBe(selfRecord);
    const deep = roundTrip({ a: { x: leaf }, b: { y: [leaf] } });
    expect(deep.b.y[0]).toBe(deep.a.x);
  });

  it('a registered class arrives as an instance of it, sharing kept', () => {
    const point = new Point(3, 4);
    const back = roundTrip({ point, again: point });
    expect(back.point).toBeInstanceOf(Point);
    expect(back.point.norm()).toBe(5);
    expect(back.again).toBe(back.point);
  });

  it('objects with 65,536 keys or more travel (were: an uncoded msgpackr error)', () => {
    const many = Object.fromEntries(Array.from({ length: 65_536 }, (_, index) => [`k${index}`, index]));
    expect(Object.keys(roundTrip(many))).toHaveLength(65_536);
  });

  it('a 20 MB string travels as a raw frame, outside the header (was: refused by the receiver)', () => {
    const text = 'z'.repeat(20 * 1024 * 1024);
    const frames = encodeValue({ text });
    expect(frames[0]?.length).toBeLessThan(100);
    expect(roundTrip({ text }).text).toBe(text);
  });

  it('typed arrays are not copied on the send side, and small plain values skip tagging', () => {
    const data = new Float32Array(1 << 20);
    const frames = encodeValue({ index: 1, data });
    expect(frames).toHaveLength(2);
    expect(frames[0]?.length).toBeLessThan(100);
    expect(frames[1]?.buffer).toBe(data.buffer);
    // Plain data: the header is `[1, value]` and nothing else.
    const plain = encodeValue({ index: 1, label: 'car', box: [1, 2, 3.5] });
    expect(plain).toHaveLength(1);
    expect(plain[0]?.[1]).toBe(1);
  });

  it('property: any value fast-check makes (sparse arrays aside) round-trips exactly', () => {
    const anything = fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withTypedArray: true,
      withUnicodeString: true,
      withObjectString: true,
      maxDepth: 4,
    });
    fc.assert(
      fc.property(anything, (value) => {
        expect(describeValue(roundTrip(value))).toBe(describeValue(value));
      }),
      { numRuns: 500 },
    );
  });

  it('property: any double, -0 included, and any string, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.double(), fc.string({ unit: 'binary' }), (number, text) => {
        const back = roundTrip([number, text]);
        expect(Object.is(back[0], number)).toBe(true);
        expect(back[1]).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});

describe('encodeValue: what is refused, at the sender, naming the node and the path', () => {
  it.each(Object.entries(REFUSED_CASES))('%s', (_name, refused) => {
    const error = refusal(refused.make());
    expect(error.code).toBe(refused.code);
    expect(error.details).toEqual({ nodeName: 'maker', path: refused.path });
    expect(error.message).toContain(`node "maker" cannot send ${refused.path}: `);
  });

  it.each([
    ['a symbol', Symbol('s'), 'output', /is a symbol/],
    ['a WeakMap', { cache: new WeakMap() }, 'output.cache', /WeakMap/],
    ['a view over a SharedArrayBuffer', [new Uint8Array(new SharedArrayBuffer(4))], 'output[0]', /SharedArrayBuffer/],
    ['a subclass of Map', { index: new (class Index extends Map {})() }, 'output.index', /class Index, which is not registered/],
    ['a function as a Set member', new Set([1, () => 2]), 'output.values()[1]', /is a function/],
    [
      'a function as an Error property',
      { error: Object.assign(new Error('x'), { retry: () => 0 }) },
      'output.error.retry',
      /is a function/,
    ],
    ['a function under an odd key', { 'odd key': { run() {} } }, 'output["odd key"].run', /is a function \(run\)/],
  ])('%s', (_name, value, path, reason) => {
    const error = refusal(value);
    expect(error.code).toBe('VALUE_NOT_CLONEABLE');
    expect(error.details.path).toBe(path);
    expect(error.message).toMatch(reason);
  });

  it(`a value nested deeper than ${MAX_DEPTH} levels is too large; ${MAX_DEPTH} levels travel`, () => {
    const nest = (levels: number) => {
      let value: unknown = 'leaf';
      for (let level = 0; level < levels; level++) value = { next: value };
      return value;
    };
    expect(JSON.stringify(roundTrip(nest(MAX_DEPTH)))).toContain('leaf');
    const error = refusal(nest(MAX_DEPTH + 2));
    expect(error.code).toBe('VALUE_TOO_LARGE');
    expect(error.details.path).toMatch(/^output(\.next)+$/);
  });

  it('a header over the limit names the part that makes it so', () => {
    const strings = Array.from({ length: 300 }, () => 'x'.repeat(60_000));
    const error = refusal({ meta: { small: 1 }, strings });
    expect(error.code).toBe('VALUE_TOO_LARGE');
    expect(error.details.path).toBe('output.strings');
    expect(error.message).toMatch(/over its 16\.0 MiB limit/);
    expect(MAX_HEADER_BYTES).toBe(16 * 1024 * 1024);
  });

  it('a registered type whose data refers back to the instance is refused', () => {
    class Node {
      constructor(readonly next: Node | undefined) {}
    }
    registerValueType({ name: 'test.SelfNode', type: Node, encode: (node) => ({ node }), decode: () => new Node(undefined) });
    const error = refusal(new Node(undefined));
    expect(error.code).toBe('VALUE_NOT_CLONEABLE');
    expect(error.details.path).toBe('output<test.SelfNode data>.node');
  });
});

describe('registerValueType', () => {
  it('refuses invalid and conflicting definitions with VALUE_TYPE_INVALID', () => {
    class A {}
    class B {}
    const define = (definition: Parameters<typeof registerValueType>[0]) => () => registerValueType(definition);
    const codec = { encode: () => 0, decode: () => new A() };
    expect(define({ name: '', type: A, ...codec })).toThrow(expect.objectContaining({ code: 'VALUE_TYPE_INVALID' }));
    expect(define({ name: 'test.Map', type: Map, ...codec } as never)).toThrow(/built in/);
    registerValueType({ name: 'test.A', type: A, ...codec });
    expect(define({ name: 'test.A', type: B, ...codec } as never)).toThrow(/taken by class A/);
    // The same module evaluated again: a new class of the same name replaces the old one.
    const again = class A {};
    expect(define({ name: 'test.A', type: again, encode: () => 0, decode: () => new again() })).not.toThrow();
    expect(roundTrip(new again())).toBeInstanceOf(again);
  });
});

describe('decodeValue: a lying peer gets a WireError, never a crash', () => {
  it.each([
    ['an unknown format', [packHeader([9, 1])], /unknown value format/],
    ['a plain value with raw frames', [packHeader([1, 1]), Buffer.alloc(1)], /no raw frames/],
    ['a reference to no object', tagged({ '\u0000': ['r', 0] }), /points at no object/],
    ['a reference ahead of its object', tagged([{ '\u0000': ['r', 1] }, {}]), /points at no object/],
    ['an unknown tag', tagged({ '\u0000': ['?'] }), /unknown tag/],
    ['a malformed BigInt', tagged({ '\u0000': ['n', '12z'] }), /BigInt/],
    ['a malformed RegExp', tagged({ '\u0000': ['R', '(', ''] }), /RegExp/],
    ['a Map with an odd entry list', tagged({ '\u0000': ['M', [1]] }), /Map/],
    ['a misaligned view', tagged({ '\u0000': ['V', 'float32', 0, 2, 4] }, Buffer.alloc(8)), /misaligned/],
    ['a view past its frame', tagged({ '\u0000': ['V', 'uint8', 0, 4, 8] }, Buffer.alloc(8)), /does not fit/],
    ['an unknown dtype', tagged({ '\u0000': ['V', 'float128', 0, 0, 0] }, Buffer.alloc(0)), /unknown dtype/],
    [
      'a frame used as string and buffer',
      tagged([{ '\u0000': ['s', 0, 'utf8'] }, { '\u0000': ['B', 0] }], Buffer.alloc(2)),
      /string and as a buffer/,
    ],
    ['an unreferenced raw frame', tagged(1, Buffer.alloc(2)), /not referenced/],
    ['an odd UTF-16 string', tagged({ '\u0000': ['s', Buffer.alloc(3)] }), /UTF-16/],
    ['a malformed Error', tagged({ '\u0000': ['E', 1, 'm', undefined, {}, false] }), /Error/],
    ['a boxed object', tagged({ '\u0000': ['P', {}] }), /boxed/],
    ['a MessagePack extension (timestamp)', tagged(new Date(0)), /extension/],
  ])('%s', (_name, frames, message) => {
    expect(() => decodeValue(frames)).toThrow(WireError);
    expect(() => decodeValue(frames)).toThrow(message);
  });

  it('refuses a header nested far deeper than any sender may send', () => {
    // [2, [[[...1]]]] written out byte by byte, as a peer could: 0x91 opens an array of one.
    const levels = 3 * MAX_DEPTH;
    const header = Buffer.concat([Buffer.from([0x92, 0x02]), Buffer.alloc(levels, 0x91), Buffer.from([0x01])]);
    expect(() => decodeValue([header])).toThrow(WireError);
    const far = Buffer.concat([Buffer.from([0x92, 0x02]), Buffer.alloc(100 * levels, 0x91), Buffer.from([0x01])]);
    expect(() => decodeValue([far])).toThrow(WireError);
  });

  it('a registered type this process lacks, or whose decode throws, is a coded ValueError', () => {
    expect(() => decodeValue(tagged({ '\u0000': ['U', 'test.Missing', 1] }))).toThrow(
      expect.objectContaining({ code: 'VALUE_TYPE_UNKNOWN' }),
    );
    class Fragile {}
    registerValueType({
      name: 'test.Fragile',
      type: Fragile,
      encode: () => 1,
      decode: () => {
        throw new Error('cannot');
      },
    });
    expect(() => roundTrip(new Fragile())).toThrow(expect.objectContaining({ code: 'VALUE_DECODE_FAILED' }));
  });

  // Found by the fuzz below: a map whose `toString` is no function made the error message itself
  // throw a TypeError (String() of it), where the peer's lie must be a WireError.
  it.each([
    ['a reference', tagged({ '\u0000': ['r', { toString: 0 }] }), /reference an object points at no object/],
    ['a tag kind', tagged({ '\u0000': [{ toString: 0 }] }), /unknown tag "an object"/],
    ['a frame reference', tagged({ '\u0000': ['B', { toString: 0 }] }), /frame reference an object is out of range/],
    ['a dtype', tagged({ '\u0000': ['V', { toString: 0 }, 0, 0, 0] }), /unknown dtype an object/],
    ['a format', [packHeader([{ toString: 0 }, 1])], /unknown value format an object/],
  ])('%s that is a map with a toString key is a WireError', (_name, frames, message) => {
    expect(() => decodeValue(frames)).toThrow(WireError);
    expect(() => decodeValue(frames)).toThrow(message);
  });

  it('fuzz: random tagged headers decode or throw a coded error, nothing else', () => {
    const kinds = fc.constantFrom('r', 'z', 'n', 's', 'D', 'R', 'M', 'S', 'E', 'B', 'V', 'O', 'U', 'P', 'x');
    const node: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        fc.tuple(kinds, fc.array(tie('node'), { maxLength: 5 })).map(([kind, fields]) => ({ '\u0000': [kind, ...fields] })),
        fc
          .tuple(fc.constant('V'), fc.constantFrom('uint8', 'float64', 'buffer', 'dataview'), fc.nat(2), fc.nat(16), fc.nat(16))
          .map((body) => ({
            '\u0000': body,
          })),
        fc.array(tie('node'), { maxLength: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(node, fc.array(fc.uint8Array({ maxLength: 16 }), { maxLength: 3 }), (root, raw) => {
        try {
          decodeValue(tagged(root, ...raw.map((bytes) => Buffer.from(bytes))));
        } catch (error) {
          const coded = error instanceof WireError || (isVfError(error) && error.code === 'VALUE_TYPE_UNKNOWN');
          if (!coded) throw error;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the codec on load', () => {
  it("loads no native module (msgpackr's optional msgpackr-extract: no faster on vf's values, 20–25 ms of CPU in every task)", () => {
    const codecUrl = new URL('./codec.ts', import.meta.url).href;
    const probe = `await import(${JSON.stringify(codecUrl)});
      const { readFileSync } = await import('node:fs');
      console.log(JSON.stringify(readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((line) => line.endsWith('.node')).map((line) => line.split(' ').at(-1))));`;
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const output = execFileSync(process.execPath, ['--import', tsx, '--conditions=@vf/source', '--input-type=module', '-e', probe], {
      encoding: 'utf8',
    });
    const addons = JSON.parse(output) as string[];
    expect(addons).toEqual([]);
  });
});
