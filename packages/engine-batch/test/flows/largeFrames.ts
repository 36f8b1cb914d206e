import { createHash } from 'node:crypto';
import { defineFlow, Flow, ProducerNode } from '@vf/core';
import { FileAppenderConsumer, IdentityProcessor } from '@vf/core/nodes';

/** ZeroMQ frames on tcp are bounded by this chunk size (`FRAME_CHUNK_BYTES`, 16 MiB): larger raw frames travel in chunks. */
const CHUNK = 16 * 1024 * 1024;

/** Bytes that depend on their position and on `seed`: a chunk joined in the wrong place changes the digest. */
function pattern(bytes: Uint8Array, seed: number): Uint8Array {
  for (let index = 0; index < bytes.length; index += 4093) bytes[index] = (index + seed * 31) & 0xff;
  bytes[bytes.length - 1] = seed;
  return bytes;
}

/**
 * Values around the tcp frame bound, each built the same way on every call: raw frames over the
 * chunk size (40 MB, one byte over, a view at an offset of a larger buffer, a long string), one
 * exactly at it, and a value whose MessagePack header is close to the 16 MiB header limit.
 */
export function largeValues(): Array<{ name: string; value: unknown }> {
  const offsetBuffer = new ArrayBuffer(2 * CHUNK + 64);
  pattern(new Uint8Array(offsetBuffer), 4);
  return [
    { name: 'float32 40 MB', value: new Float32Array(pattern(new Uint8Array(40_000_000), 1).buffer) },
    { name: 'uint8 at the chunk size', value: pattern(new Uint8Array(CHUNK), 2) },
    { name: 'uint8 one byte over', value: pattern(new Uint8Array(CHUNK + 1), 3) },
    { name: 'view at an offset', value: { label: 'offset', data: new Uint8Array(offsetBuffer, 8, CHUNK + 40) } },
    { name: 'string of 20 M characters', value: 'abcdefghij'.repeat(2_000_000) },
    // 1.86 M float64 in MessagePack (9 bytes each): a 16.74 MB header, just under MAX_HEADER_BYTES.
    { name: 'header near 16 MiB', value: Array.from({ length: 1_860_000 }, (_, index) => index + 0.5) },
  ];
}

/** What the sink writes for a value: its kind, size and SHA-256 of its bytes. */
export function digest(value: unknown): { type: string; bytes: number; sha: string } {
  const hash = createHash('sha256');
  if (typeof value === 'string') {
    hash.update(value);
    return { type: 'string', bytes: value.length, sha: hash.digest('hex') };
  }
  if (Array.isArray(value)) {
    const numbers = Float64Array.from(value as number[]);
    hash.update(new Uint8Array(numbers.buffer));
    return { type: 'Array', bytes: numbers.byteLength, sha: hash.digest('hex') };
  }
  const view = (ArrayBuffer.isView(value) ? value : (value as { data: ArrayBufferView }).data) as ArrayBufferView;
  hash.update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  return { type: view.constructor.name, bytes: view.byteLength, sha: hash.digest('hex') };
}

class LargeValues extends ProducerNode<unknown> {
  constructor() {
    super({ name: 'values' });
  }

  *produce() {
    for (const { value } of largeValues()) yield value;
  }
}

/** values → relay → sink (one line per value: {@link digest}): every value crosses two links. */
export default defineFlow((params: { out: string }) => {
  const values = new LargeValues();
  const relay = new IdentityProcessor({ name: 'relay' }).from(values);
  const sink = new FileAppenderConsumer<[unknown]>(params.out, { name: 'sink', format: (value) => JSON.stringify(digest(value)) }).from(
    relay,
  );
  return new Flow([values], [sink]);
});
