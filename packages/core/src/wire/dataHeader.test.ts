import { describe, expect, it } from 'vitest';
import { packHeader, unpackHeader } from './codec.js';
import {
  DATA_HEADER_MARK,
  isDataHeader,
  packDataHeader,
  packDataHeaderPortably,
  parseDataHeader,
  parseDataHeaderPortably,
  withSharedReferences,
} from './dataHeader.js';

const META = { seq: 12, ticket: 7, taskIndex: 3, proctimeMs: 0.25, actualProctimeMs: 1.5, createdAt: 1_764_460_000_000.125 };

describe('data envelope header', () => {
  it('is 56 bytes, 64 with a timestamp, starts with a byte no MessagePack header starts with, and reads back exactly', () => {
    const plain = packDataHeader(META, 2);
    const stamped = packDataHeader({ ...META, timestamp: 1234.5 }, 2);
    expect([plain.length, stamped.length]).toEqual([56, 64]);
    expect(plain[0]).toBe(DATA_HEADER_MARK);
    expect(() => unpackHeader(plain)).toThrow(/not valid MessagePack/);
    expect(isDataHeader(plain)).toBe(true);
    expect(isDataHeader(packHeader(['e', 'completed']))).toBe(false);
    expect(isDataHeader(Buffer.alloc(0))).toBe(false);
    expect(parseDataHeader(plain)).toEqual({ ...META, frameCount: 2, shared: undefined });
    expect(parseDataHeader(stamped)).toEqual({ ...META, timestamp: 1234.5, frameCount: 2, shared: undefined });
  });

  it('staged in one copy, it has the bytes and fields of the one written field by field (the big-endian path)', () => {
    // A small deterministic generator: the same cases on every run.
    let state = 0x9e3779b9;
    const next = () => {
      state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return state / 2 ** 32;
    };
    for (let index = 0; index < 500; index++) {
      const fields = {
        seq: Math.floor(next() * 2 ** 53),
        ticket: Math.floor(next() * 1e6),
        taskIndex: Math.floor(next() * 64),
        proctimeMs: next() * 1e4,
        actualProctimeMs: index % 7 === 0 ? 0 : next() * 1e-3,
        createdAt: 1_764_460_000_000 + next() * 1e9,
        ...(index % 2 === 0 ? { timestamp: (next() - 0.5) * 1e12 } : {}),
      };
      const staged = packDataHeader(fields, index % 5);
      expect(staged.equals(packDataHeaderPortably(fields, index % 5))).toBe(true);
      // Frames read in place sit anywhere in a ring: parse one that starts at an odd offset.
      const shifted = Buffer.concat([Buffer.from([0]), staged]).subarray(1);
      const expected = { ...fields, frameCount: index % 5, shared: undefined };
      expect(parseDataHeader(shifted)).toEqual(expected);
      expect(parseDataHeaderPortably(shifted)).toEqual(expected);
    }
  });

  it('takes shared-memory references after its fields, timestamp kept, and only once', () => {
    const references = [[1, '0123456789abcdef-2-5', 6_220_800]] as const;
    for (const timestamp of [undefined, 99]) {
      const header = packDataHeader(timestamp === undefined ? META : { ...META, timestamp }, 2);
      const shared = withSharedReferences(header, references);
      expect(parseDataHeader(shared)).toEqual({
        ...META,
        ...(timestamp === undefined ? {} : { timestamp }),
        frameCount: 2,
        shared: references,
      });
      // The header it was made from is left as it was: a message sent to several children shares it.
      expect(parseDataHeader(header).shared).toBeUndefined();
      expect(() => withSharedReferences(shared, references)).toThrow(RangeError);
    }
    expect(() => withSharedReferences(packHeader(['e', 'completed']), references)).toThrow(RangeError);
  });
});
