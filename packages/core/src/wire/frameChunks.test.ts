import { describe, expect, it } from 'vitest';
import { packSmallEnvelopes } from './batchFrame.js';
import { encodeValue, packHeader, WireError } from './codec.js';
import { type ChunkedFrame, packDataHeader, parseDataHeader, withChunkedFrames, withSharedReferences } from './dataHeader.js';
import { parseEnvelope } from './envelope.js';
import { MAX_FRAME_BYTES, MAX_HEADER_BYTES } from './format.js';
import { FRAME_CHUNK_BYTES, joinChunks, MAX_TCP_FRAME_BYTES, splitLargeFrames } from './frameChunks.js';

const META = { seq: 5, ticket: 5, taskIndex: 0, proctimeMs: 1, actualProctimeMs: 2, createdAt: 1_700_000_000_000 };
const CHUNK = FRAME_CHUNK_BYTES;

/** A data message as a publisher builds it: `[data header, value header, ...raw frames]`. */
function dataMessage(value: unknown): Buffer[] {
  const frames = encodeValue(value);
  return [packDataHeader(META, frames.length), ...frames];
}

/** Bytes that say where they are: a chunk put in the wrong place changes them. */
function numbered(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index += 4099) bytes[index] = (index / 4099) & 0xff;
  bytes[length - 1] = 0xee;
  return bytes;
}

/** The frames of a data envelope for a value of `frameCount` frames whose table lists `chunked`, then `rest`. */
function chunkedEnvelope(frameCount: number, chunked: readonly ChunkedFrame[], rest: readonly Buffer[]): Buffer[] {
  return [withChunkedFrames(packDataHeader(META, frameCount), chunked), ...rest];
}

const valueHeader = packHeader([2, { '\u0000': ['V', 'uint8', 0, 0, CHUNK + 1] }]);
/** One chunk's worth of bytes, shared by the malformed cases (views of it cost nothing more). */
const full = Buffer.alloc(CHUNK + 8);

describe('chunked frames (tcp)', () => {
  it('bounds every frame: the chunk holds the largest value header; the socket bound adds room for framing', () => {
    expect(CHUNK).toBe(MAX_HEADER_BYTES);
    expect(MAX_TCP_FRAME_BYTES - CHUNK).toBeGreaterThanOrEqual(33); // CURVE's MESSAGE command around each frame
    expect(1920 * 1080 * 3).toBeLessThan(CHUNK); // a 1080p RGB frame travels whole
  });

  it('leaves a message whose raw frames fit a chunk as it is: the same array, nothing copied', () => {
    for (const value of [42, { index: 1, data: new Uint8Array(1000) }, numbered(CHUNK)]) {
      const frames = dataMessage(value);
      expect(splitLargeFrames(frames)).toBe(frames);
    }
  });

  it.each([
    ['one byte over the chunk size', CHUNK + 1, [CHUNK, 1]],
    ['40 MB', 40_000_000, [CHUNK, CHUNK, 40_000_000 - 2 * CHUNK]],
    ['exactly two chunks', 2 * CHUNK, [CHUNK, CHUNK]],
  ])('splits a raw frame of %s into views of it, and the receiver joins them byte-identical', (_name, bytes, chunkSizes) => {
    const data = numbered(bytes);
    const message = dataMessage({ data, small: new Float64Array([1.5, -2]), label: 'x' });
    const sent = splitLargeFrames(message);
    expect(sent.slice(2).map((frame) => frame.length)).toEqual([...chunkSizes, 16]);
    // Views of the value's own memory: the sender copies nothing.
    expect(sent.slice(2, 2 + chunkSizes.length).every((chunk) => chunk.buffer === data.buffer)).toBe(true);
    // The message's own data header is left as it was (it may go to other children).
    expect(parseDataHeader(message[0] as Buffer).chunked).toBeUndefined();
    expect(parseDataHeader(sent[0] as Buffer)).toMatchObject({ ...META, frameCount: 3, chunked: [[1, bytes]] });
    const { envelope, next } = parseEnvelope([...sent, packHeader(['e', 'completed'])], 0);
    expect(next).toBe(sent.length);
    const value = (envelope as { value: { data: Uint8Array; small: Float64Array; label: string } }).value;
    expect(Buffer.from(value.data.buffer, value.data.byteOffset, value.data.byteLength).equals(Buffer.from(data))).toBe(true);
    expect(value.small).toEqual(new Float64Array([1.5, -2]));
    expect(value.label).toBe('x');
  });

  it('splits each large frame of a value, keeping the small ones between them whole', () => {
    const first = numbered(CHUNK + 3);
    const second = numbered(CHUNK + 7).reverse();
    const sent = splitLargeFrames(dataMessage([first, new Uint8Array([9]), second]));
    expect(parseDataHeader(sent[0] as Buffer).chunked).toEqual([
      [1, CHUNK + 3],
      [3, CHUNK + 7],
    ]);
    expect(sent.slice(2).map((frame) => frame.length)).toEqual([CHUNK, 3, 1, CHUNK, 7]);
    const value = (parseEnvelope(sent, 0).envelope as { value: Uint8Array[] }).value;
    expect(value.map((array) => array.length)).toEqual([CHUNK + 3, 1, CHUNK + 7]);
    expect(Buffer.from(value[2] as Uint8Array).equals(Buffer.from(second))).toBe(true);
  });

  it('a chunk table reads back as written, timestamp kept; a header has shared frames or chunks, not both', () => {
    const stamped = packDataHeader({ ...META, timestamp: 12.5 }, 4);
    const header = withChunkedFrames(stamped, [
      [1, CHUNK + 1],
      [3, MAX_FRAME_BYTES],
    ]);
    expect(header.length).toBe(stamped.length + 4 + 2 * 8);
    expect(parseDataHeader(header)).toMatchObject({
      timestamp: 12.5,
      frameCount: 4,
      shared: undefined,
      chunked: [
        [1, CHUNK + 1],
        [3, MAX_FRAME_BYTES],
      ],
    });
    expect(() => withChunkedFrames(header, [[1, CHUNK + 1]])).toThrow(RangeError);
    expect(() => withChunkedFrames(withSharedReferences(stamped, [[1, 'segment', 10]]), [[1, CHUNK + 1]])).toThrow(RangeError);
    const both = Buffer.from(header);
    both[1] = (both[1] as number) | 2;
    expect(() => parseDataHeader(both)).toThrow(/both shared and chunked/);
  });

  describe('from a lying peer: a WireError, never a crash, and nothing allocated beyond what arrived', () => {
    const header = packDataHeader(META, 2);
    it.each([
      ['a table that announces more entries than it holds', withChunkedFrames(header, [[1, CHUNK + 1]]).subarray(0, -1)],
      [
        'a table that announces 2^32 - 1 entries',
        Buffer.concat([withChunkedFrames(header, [[1, CHUNK + 1]]).subarray(0, 56), u32(0xffffffff), u32(1), u32(CHUNK + 1)]),
      ],
      ['a table of no entries', Buffer.concat([withChunkedFrames(header, [[1, CHUNK + 1]]).subarray(0, 56), u32(0)])],
      ['a table with bytes after its entries', Buffer.concat([withChunkedFrames(header, [[1, CHUNK + 1]]), Buffer.from([0])])],
      ['a table cut inside its count', withChunkedFrames(header, [[1, CHUNK + 1]]).subarray(0, 58)],
    ])('rejects %s', (_name, bad) => {
      expect(() => parseDataHeader(bad)).toThrow(WireError);
      expect(() => parseEnvelope([bad, valueHeader, full.subarray(0, CHUNK), full.subarray(0, 1)], 0)).toThrow(WireError);
    });

    it.each([
      ['the value header listed as chunked', 2, [[0, CHUNK + 1]], [full.subarray(0, CHUNK), full.subarray(0, 1)], /not a raw frame/],
      ['a frame past the value', 2, [[2, CHUNK + 1]], [valueHeader, full.subarray(0, CHUNK), full.subarray(0, 1)], /not a raw frame/],
      [
        'a frame listed twice',
        3,
        [
          [1, CHUNK + 1],
          [1, CHUNK + 1],
        ],
        [valueHeader],
        /in order/,
      ],
      [
        'frames out of order',
        3,
        [
          [2, CHUNK + 1],
          [1, CHUNK + 1],
        ],
        [valueHeader],
        /in order/,
      ],
      ['a frame small enough to travel whole', 2, [[1, CHUNK]], [valueHeader, full.subarray(0, CHUNK)], /expected 16777217 to/],
      [
        'a frame over the 2 GiB raw frame limit',
        2,
        [[1, MAX_FRAME_BYTES + 1]],
        [valueHeader, full.subarray(0, CHUNK)],
        /expected 16777217 to/,
      ],
      ['a frame of 4 GiB', 2, [[1, 0xffffffff]], [valueHeader, full.subarray(0, CHUNK)], /expected 16777217 to/],
      [
        'a frame of 2 GiB in a message of 3 frames (refused before anything is allocated)',
        2,
        [[1, MAX_FRAME_BYTES]],
        [valueHeader, full.subarray(0, CHUNK), full.subarray(0, 1)],
        /announces 2 value frames in 129, 3 present/,
      ],
      [
        'a chunk missing',
        2,
        [[1, 2 * CHUNK + 1]],
        [valueHeader, full.subarray(0, CHUNK), full.subarray(0, 1)],
        /announces 2 value frames in 4, 3 present/,
      ],
      [
        'a short chunk',
        2,
        [[1, CHUNK + 1]],
        [valueHeader, full.subarray(0, CHUNK - 1), full.subarray(0, 2)],
        /chunk 0 of frame 1 has 16777215 bytes/,
      ],
      [
        'a chunk longer than the chunk size',
        2,
        [[1, CHUNK + 1]],
        [valueHeader, full.subarray(0, CHUNK + 1), full.subarray(0, 0)],
        /chunk 0 of frame 1 has 16777217 bytes/,
      ],
      [
        'a last chunk longer than announced',
        2,
        [[1, CHUNK + 1]],
        [valueHeader, full.subarray(0, CHUNK), full.subarray(0, 5)],
        /chunk 1 of frame 1 has 5 bytes, expected 1/,
      ],
      [
        'an empty last chunk',
        2,
        [[1, CHUNK + 1]],
        [valueHeader, full.subarray(0, CHUNK), Buffer.alloc(0)],
        /chunk 1 of frame 1 has 0 bytes, expected 1/,
      ],
    ] as const)('rejects %s', (_name, frameCount, chunked, rest, message) => {
      const frames = chunkedEnvelope(frameCount, chunked as readonly ChunkedFrame[], rest);
      expect(() => parseEnvelope(frames, 0)).toThrow(WireError);
      expect(() => parseEnvelope(frames, 0)).toThrow(message);
    });

    it('a joined frame must still be what the value header says it is', () => {
      // Chunks that join correctly, under a value header that wants one byte more.
      const wantsMore = packHeader([2, { '\u0000': ['V', 'uint8', 0, 0, CHUNK + 2] }]);
      const frames = chunkedEnvelope(2, [[1, CHUNK + 1]], [wantsMore, full.subarray(0, CHUNK), full.subarray(0, 1)]);
      expect(() => parseEnvelope(frames, 0)).toThrow(/does not fit/);
    });

    it('joins chunks only for listed frames: the envelope after a chunked one starts where its chunks end', () => {
      const rest = [valueHeader, full.subarray(0, CHUNK), full.subarray(0, 1), packHeader(['e', 'stopped'])];
      const { envelope, next } = parseEnvelope(chunkedEnvelope(2, [[1, CHUNK + 1]], rest), 0);
      expect((envelope as { value: Uint8Array }).value.length).toBe(CHUNK + 1);
      expect(next).toBe(4);
      expect(() => joinChunks(rest, 0, 2, [[1, CHUNK + 1]])).not.toThrow();
    });
  });

  it('a batch never holds a payload over the chunk size: a long run of small envelopes becomes several batches', () => {
    const envelope = [packHeader(['e', 'completed']), Buffer.alloc(16 * 1024 - 64)];
    const bytes = envelope.reduce((total, frame) => total + frame.length, 0);
    const count = Math.ceil((2.5 * CHUNK) / bytes);
    const frames = packSmallEnvelopes(Array.from({ length: count }, () => envelope));
    expect(Math.max(...frames.map((frame) => frame.length))).toBeLessThanOrEqual(CHUNK);
    const batches: number[] = [];
    for (let at = 0; at < frames.length; ) {
      const { envelope: batch, next } = parseEnvelope(frames, at);
      batches.push(batch.kind === 'batch' ? batch.frames.length : 0);
      at = next;
    }
    // Each as full as the bound allows: what the old packing sent as one 40 MiB payload.
    expect(batches).toEqual(
      [Math.floor(CHUNK / bytes), Math.floor(CHUNK / bytes), count - 2 * Math.floor(CHUNK / bytes)].map((n) => 2 * n),
    );
  });
});

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}
