import { describe, expect, it } from 'vitest';
import { packHeader, unpackHeader } from './codec.js';
import { DATA_HEADER_MARK, isDataHeader, packDataHeader, parseDataHeader, withSharedReferences } from './dataHeader.js';

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
