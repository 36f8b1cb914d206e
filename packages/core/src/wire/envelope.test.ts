import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isVfError } from '../errors.js';
import { encodeValue, packHeader, WireError } from './codec.js';
import { DATA_HEADER_MARK, packDataHeader } from './dataHeader.js';
import { parseEnvelope, parseFeedback } from './envelope.js';

const META = { seq: 0, ticket: 0, taskIndex: 0, proctimeMs: 0, actualProctimeMs: 0, createdAt: 0 };

/** A data envelope's header for a value of `frameCount` frames, with `meta`'s fields over {@link META}'s. */
function dataHeader(frameCount: number, meta: Partial<typeof META> & { timestamp?: number } = {}): Buffer {
  return packDataHeader({ ...META, ...meta }, frameCount);
}

/** A data header for one frame, unstamped, its flags byte then set to `flags`. */
function withFlags(flags: number): Buffer {
  const header = dataHeader(1);
  header[1] = flags;
  return header;
}

/** A valid data envelope's frames for `value`. */
function dataFrames(value: unknown, seq = 3): Buffer[] {
  const frames = encodeValue(value);
  return [dataHeader(frames.length, { seq, ticket: seq, proctimeMs: 1.5, actualProctimeMs: 2.5, createdAt: 1_700_000_000_000 }), ...frames];
}

/** Parses every envelope of a message; returns them, or the error that stopped the parse. */
function parseAll(frames: readonly Buffer[]): unknown {
  const parsed: unknown[] = [];
  let at = 0;
  while (at < frames.length) {
    const { envelope, next } = parseEnvelope(frames, at);
    expect(next).toBeGreaterThan(at);
    parsed.push(envelope);
    at = next;
  }
  return parsed;
}

/**
 * Runs `parse`: it must either succeed or throw a WireError (code WIRE_FORMAT), nothing else; or
 * a ValueError for a registered type this process lacks, which is how a well-formed one reads.
 */
function expectTypedOutcome(parse: () => unknown): void {
  try {
    parse();
  } catch (error) {
    const typed = (error instanceof WireError && error.code === 'WIRE_FORMAT') || (isVfError(error) && error.code === 'VALUE_TYPE_UNKNOWN');
    if (!typed) {
      throw new Error(`parser threw a non-wire error: ${String(error)}`, { cause: error });
    }
  }
}

const sampleValue = fc.oneof(
  fc.jsonValue(),
  fc.record({ index: fc.nat(), data: fc.uint8Array({ maxLength: 64 }), scores: fc.float32Array({ maxLength: 8 }) }),
  fc.array(fc.int16Array({ maxLength: 16 }), { maxLength: 3 }),
  // Tagged values: BigInt, -0, Date, Map, Set, lone surrogates, views sharing one buffer, a cycle.
  fc.record({ big: fc.bigInt(), zero: fc.constant(-0), when: fc.date({ noInvalidDate: true }), text: fc.string({ unit: 'binary' }) }),
  fc
    .array(fc.tuple(fc.string(), fc.integer()), { maxLength: 4 })
    .map((entries) => ({ map: new Map(entries), set: new Set(entries.map(([key]) => key)) })),
  fc.uint8Array({ minLength: 8, maxLength: 64 }).map((bytes) => {
    const cycle: Record<string, unknown> = {
      bytes,
      head: bytes.subarray(0, 4),
      floats: new Float32Array(bytes.buffer, bytes.byteOffset, 2),
    };
    cycle.self = cycle;
    return cycle;
  }),
);

/** Mutations of a valid message: flip, truncate, extend, drop, duplicate or swap frames. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), frame: fc.nat(), byte: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), frame: fc.nat(), keep: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), frame: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('drop' as const), frame: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), frame: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), frame: fc.nat(), bytes: fc.uint8Array({ maxLength: 32 }) }),
);

describe('parseEnvelope', () => {
  it('round-trips hello, end and data envelopes with raw frames', () => {
    expect(parseEnvelope([packHeader(['h', 4])], 0)).toEqual({ envelope: { kind: 'hello', taskId: 4 }, next: 1 });
    expect(parseEnvelope([packHeader(['e', 'stopped'])], 0)).toEqual({ envelope: { kind: 'end', reason: 'stopped' }, next: 1 });
    const proof = 'ab'.repeat(32);
    expect(parseEnvelope([packHeader(['p', 4, proof])], 0)).toEqual({ envelope: { kind: 'proof', taskId: 4, proof }, next: 1 });
    const frame = new Uint8Array([1, 2, 3]);
    const frames = [...dataFrames({ index: 7, data: frame }), packHeader(['e', 'completed'])];
    const first = parseEnvelope(frames, 0);
    expect(first.next).toBe(3);
    expect(first.envelope).toMatchObject({ kind: 'data', seq: 3, ticket: 3, proctimeMs: 1.5, value: { index: 7, data: frame } });
    expect(parseEnvelope(frames, first.next).envelope).toEqual({ kind: 'end', reason: 'completed' });
    expect(parseEnvelope([packHeader(['f', [0, 7, 2 ** 40]])], 0)).toEqual({ envelope: { kind: 'done', seqs: [0, 7, 2 ** 40] }, next: 1 });
  });

  it.each([
    ['a truncated MessagePack header', [Buffer.from([0x93, 0xa1])], /not valid MessagePack/],
    ['an unknown kind', [packHeader(['x', 1])], /unknown envelope kind "x"/],
    ['a hello without a task id', [packHeader(['h', 'one'])], /hello envelope/],
    ['a proof that is not 64 hex digits', [packHeader(['p', 4, 'AB'.repeat(32)])], /proof envelope/],
    ['a proof without a task id', [packHeader(['p', 'ab'.repeat(32)])], /proof envelope/],
    ['an end with an unknown reason', [packHeader(['e', 'exploded'])], /end envelope/],
    ['a done envelope without its list', [packHeader(['f', 3])], /done envelope must be \[f, \[seq, ...\]\]/],
    ['a done envelope naming a negative origin', [packHeader(['f', [1, -2]])], /done envelope/],
    ['a done envelope naming a fractional origin', [packHeader(['f', [1.5]])], /done envelope/],
    ['a done envelope with a field too many', [packHeader(['f', [1], 'x'])], /done envelope/],
    [
      'a done envelope naming more than 65,536 origins',
      [packHeader(['f', Array.from({ length: 65_537 }, (_, seq) => seq)])],
      /at most 65536/,
    ],
    [
      'a data envelope in MessagePack (not its binary header)',
      [packHeader(['d', 1, 1, 0, 0, 0, 0, 1]), ...encodeValue(null)],
      /unknown envelope kind "d"/,
    ],
    ['a data header cut short', [Buffer.from([DATA_HEADER_MARK, 0, 0, 0, 1, 0, 0, 0])], /8 bytes, expected at least 56/],
    ['a data header with unknown flags', [withFlags(8), ...encodeValue(null)], /unknown flags/],
    ['a data header with bytes after it', [Buffer.concat([dataHeader(1), Buffer.from([0])]), ...encodeValue(null)], /1 bytes too many/],
    ['a negative seq', [dataHeader(1, { seq: -1 }), ...encodeValue(null)], /must be counts/],
    ['a fractional ticket', [dataHeader(1, { ticket: 1.5 }), ...encodeValue(null)], /must be counts/],
    ['a NaN timing field', [dataHeader(1, { proctimeMs: Number.NaN }), ...encodeValue(null)], /non-numeric timing/],
    ['an infinite timestamp', [dataHeader(1, { timestamp: Number.POSITIVE_INFINITY }), ...encodeValue(null)], /non-numeric timing/],
    ['a timestamp announced but missing', [withFlags(1), ...encodeValue(null)], /announces a timestamp it lacks/],
    [
      'shared frames announced but not valid MessagePack',
      [Buffer.concat([withFlags(2), Buffer.from([0x93, 0xa1])]), ...encodeValue(null)],
      /not valid MessagePack/,
    ],
    [
      'shared frames referenced where none are read',
      [Buffer.concat([withFlags(2), packHeader([[1, 'x', 1]])]), ...encodeValue(null)],
      /does not use/,
    ],
    ['more value frames announced than sent', [dataHeader(2), ...encodeValue(null)], /announces 2 value frames, 1 present/],
    ['a data envelope without its value', [dataHeader(0)], /announces 0 value frames/],
    [
      'a raw frame whose size contradicts its dtype',
      [dataHeader(2), packHeader([2, { '\u0000': ['V', 'float32', 0, 0, 12] }]), Buffer.alloc(5)],
      /does not fit frame 0/,
    ],
    [
      'a view of 2^40 bytes',
      [dataHeader(2), packHeader([2, { '\u0000': ['V', 'uint8', 0, 0, 2 ** 40] }]), Buffer.alloc(1)],
      /does not fit/,
    ],
  ])('rejects %s with a WireError', (_name, frames, message) => {
    expect(() => parseEnvelope(frames, 0)).toThrow(WireError);
    expect(() => parseEnvelope(frames, 0)).toThrow(message);
  });

  it('carries a producer-stamped timestamp when there is one, and none otherwise', () => {
    const frames = encodeValue('frame');
    const stamped = parseEnvelope([dataHeader(frames.length, { createdAt: 5, timestamp: 1234.5 }), ...frames], 0).envelope;
    expect(stamped).toMatchObject({ kind: 'data', createdAt: 5, timestamp: 1234.5, value: 'frame' });
    expect(parseEnvelope(dataFrames('x'), 0).envelope).not.toHaveProperty('timestamp');
  });

  it('reads back every field of a data header as written, seq and ticket up to 2^53 - 1', () => {
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.maxSafeNat(),
          ticket: fc.maxSafeNat(),
          taskIndex: fc.nat(),
          proctimeMs: fc.double({ noNaN: true, noDefaultInfinity: true }),
          actualProctimeMs: fc.double({ noNaN: true, noDefaultInfinity: true }),
          createdAt: fc.double({ noNaN: true, noDefaultInfinity: true }),
          timestamp: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: undefined }),
        }),
        (meta) => {
          const frames = encodeValue('v');
          const { envelope } = parseEnvelope([packDataHeader(meta, frames.length), ...frames], 0);
          const { timestamp, ...rest } = meta;
          expect(envelope).toEqual({ kind: 'data', ...rest, ...(timestamp === undefined ? {} : { timestamp }), value: 'v' });
        },
      ),
    );
  });

  it('fuzz: a data header with random bytes after its mark parses or throws a WireError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.nat({ max: 3 }), (bytes, flags) => {
        const header = Buffer.concat([Buffer.from([DATA_HEADER_MARK, flags]), Buffer.from(bytes)]);
        expectTypedOutcome(() => parseAll([header, ...encodeValue(null)]));
      }),
      { numRuns: 2000 },
    );
  });

  it('fuzz: random frames never crash the parser, they parse or throw a WireError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 96 }), { minLength: 1, maxLength: 5 }), (arrays) => {
        expectTypedOutcome(() => parseAll(arrays.map((bytes) => Buffer.from(bytes))));
      }),
      { numRuns: 2000 },
    );
  });

  it('fuzz: random MessagePack headers in the envelope shape never crash the parser', () => {
    const header = fc.tuple(fc.constantFrom('h', 'd', 'e', 'c', 'g', 'a', 'zz'), fc.array(fc.anything({ maxDepth: 3 }), { maxLength: 9 }));
    fc.assert(
      fc.property(header, fc.array(fc.uint8Array({ maxLength: 32 }), { maxLength: 3 }), ([kind, rest], raw) => {
        let encoded: Buffer;
        try {
          encoded = packHeader([kind, ...rest]);
        } catch {
          return; // not encodable (e.g. a symbol): not a frame a peer could send
        }
        expectTypedOutcome(() => parseAll([encoded, ...raw.map((bytes) => Buffer.from(bytes))]));
      }),
      { numRuns: 1000 },
    );
  });

  it('fuzz: mutated valid messages never crash the parser and never yield a value inconsistent with its frames', () => {
    fc.assert(
      fc.property(sampleValue, fc.array(mutation, { minLength: 1, maxLength: 3 }), (value, changes) => {
        let frames: Buffer[] = [...dataFrames(value), packHeader(['e', 'completed'])].map((frame) => Buffer.from(frame));
        for (const change of changes) frames = applyMutation(frames, change);
        try {
          const parsed = parseAll(frames) as Array<{ kind: string; value?: unknown }>;
          // Whatever parsed is well-formed: every typed array holds exactly its frame's bytes.
          for (const envelope of parsed) if (envelope.kind === 'data') checkViews(envelope.value);
        } catch (error) {
          if (!(error instanceof WireError)) throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseFeedback', () => {
  it('accepts credits, arrivals and acks, rejects the rest', () => {
    expect(parseFeedback([packHeader(['c', 3])])).toEqual({ kind: 'credit', count: 3, released: true });
    expect(parseFeedback([packHeader(['g', 4])])).toEqual({ kind: 'credit', count: 4, released: false });
    expect(parseFeedback([packHeader(['k', 5])])).toEqual({ kind: 'arrived', count: 5 });
    expect(parseFeedback([packHeader(['a'])])).toEqual({ kind: 'ack' });
    expect(parseFeedback([packHeader(['n', '0f'.repeat(32)])])).toEqual({ kind: 'challenge', challenge: '0f'.repeat(32) });
    for (const bad of [
      [packHeader(['n', '0f'])],
      [packHeader(['n', 7])],
      [packHeader(['c', 0])],
      [packHeader(['c', -2])],
      [packHeader(['c', 1.5])],
      [packHeader(['g', 0])],
      [packHeader(['k', 0])],
      [packHeader(['k', '3'])],
      [packHeader(['a']), packHeader(['a'])],
      [Buffer.alloc(0)],
    ]) {
      expect(() => parseFeedback(bad)).toThrow(WireError);
    }
  });

  it('fuzz: random feedback frames parse or throw a WireError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 24 }), { maxLength: 3 }), (arrays) => {
        expectTypedOutcome(() => parseFeedback(arrays.map((bytes) => Buffer.from(bytes))));
      }),
      { numRuns: 2000 },
    );
  });
});

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function applyMutation(frames: readonly Buffer[], change: Mutation): Buffer[] {
  if (frames.length === 0) return [];
  const index = change.frame % frames.length;
  const frame = frames[index] as Buffer;
  const out = [...frames];
  switch (change.kind) {
    case 'flip': {
      if (frame.length === 0) return out;
      const copy = Buffer.from(frame);
      const at = change.byte % copy.length;
      copy[at] = (copy[at] as number) ^ change.bits;
      out[index] = copy;
      return out;
    }
    case 'truncate':
      out[index] = frame.subarray(0, change.keep % (frame.length + 1));
      return out;
    case 'append':
      out[index] = Buffer.concat([frame, Buffer.from(change.bytes)]);
      return out;
    case 'drop':
      out.splice(index, 1);
      return out;
    case 'duplicate':
      out.splice(index, 0, frame);
      return out;
    case 'insert':
      out.splice(index, 0, Buffer.from(change.bytes));
      return out;
  }
}

function checkViews(value: unknown, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 70) return;
  if (ArrayBuffer.isView(value)) {
    expect(value.byteOffset + value.byteLength).toBeLessThanOrEqual(value.buffer.byteLength);
    return;
  }
  for (const item of Object.values(value)) checkViews(item, depth + 1);
}
