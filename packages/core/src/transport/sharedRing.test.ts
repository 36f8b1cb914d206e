import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeValue } from '../wire/codec.js';
import { packDataHeader } from '../wire/dataHeader.js';
import { parseEnvelope, type WireEnvelope } from '../wire/envelope.js';
import { nativeRings, RING_BYTES, RingReader, RingWriter, ringPath } from './sharedRing.js';

const native = nativeRings();

describe.skipIf(native === null)('shared ring', () => {
  let dir: string;
  let writer: RingWriter;
  let reader: RingReader;
  beforeEach(() => {
    dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vf-ring-test-'));
    const path = ringPath(dir, 1, 2);
    writer = RingWriter.create(native as NonNullable<typeof native>, path);
    reader = RingReader.open(native as NonNullable<typeof native>, path);
  });
  afterEach(() => {
    writer.close('test');
    rmSync(dir, { recursive: true, force: true });
  });

  const drained = () => {
    const entries: string[][] = [];
    const stop = reader.drain((frames) => entries.push(frames.map((frame) => frame.toString())));
    return { entries, stop };
  };

  it('hands over envelopes in order, each as its frames, and the reader removes the file once mapped', () => {
    expect(existsSync(ringPath(dir, 1, 2))).toBe(false);
    expect(writer.write([Buffer.from('a'), Buffer.from('bc')])).toBe('written');
    expect(writer.write([Buffer.from(''), Buffer.from('defgh')])).toBe('written');
    expect(drained()).toEqual({
      entries: [
        ['a', 'bc'],
        ['', 'defgh'],
      ],
      stop: 'empty',
    });
    expect(drained()).toEqual({ entries: [], stop: 'empty' });
  });

  it('wraps around the end of its area, many times, without losing or reordering an entry', () => {
    const payload = Buffer.alloc(1000, 7);
    let sent = 0;
    let received = 0;
    for (let round = 0; round < 50; round++) {
      while (writer.write([Buffer.from(String(sent)), payload]) !== 'no room') sent += 1;
      reader.drain((frames) => {
        expect(frames[0]?.toString()).toBe(String(received));
        expect(frames[1]?.equals(payload)).toBe(true);
        received += 1;
      });
    }
    expect(received).toBe(sent);
    expect(sent).toBeGreaterThan((50 * RING_BYTES) / 1100);
  });

  it('refuses an entry larger than a quarter of the ring, and one that finds it full; the marker always fits', () => {
    expect(writer.write([Buffer.alloc(RING_BYTES / 4)])).toBe('no room');
    while (writer.write([Buffer.alloc(4000)]) === 'written');
    expect(writer.fits([Buffer.alloc(4000)])).toBe(false);
    expect(writer.writeToZmq()).toBe('written');
    const { entries, stop } = drained();
    expect(stop).toBe('to ZeroMQ');
    expect(entries.length).toBeGreaterThan(100);
    expect(writer.fits([Buffer.alloc(4000)])).toBe(true);
  });

  it('frames are read in place, yet what is decoded from them owns its memory: reusing the ring leaves it intact', () => {
    const values: unknown[] = [
      { plain: 'x'.repeat(100), n: [1, 2.5, -3], nested: { ok: true } },
      { samples: new Float64Array([1.5, -2, 3e300]), bytes: Buffer.from('raw bytes'), when: new Date(7) },
      { illFormed: 'a\ud800b', map: new Map([['k', new Uint8Array([9, 8, 7])]]) },
    ];
    const fields = { ticket: 0, taskIndex: 0, proctimeMs: 1, actualProctimeMs: 2, createdAt: 3 };
    for (const [seq, value] of values.entries()) {
      const frames = encodeValue(value);
      expect(writer.write([packDataHeader({ ...fields, seq }, frames.length), ...frames])).toBe('written');
    }
    const received: WireEnvelope[] = [];
    reader.drain((frames) => received.push(parseEnvelope(frames, 0).envelope));
    // The sender reuses every byte of the ring, several times over.
    for (let round = 0; round < 3; round++) {
      while (writer.write([Buffer.alloc(4000, 0xff)]) === 'written');
      reader.drain(() => undefined);
    }
    expect(received.map((envelope) => (envelope.kind === 'data' ? envelope.value : envelope))).toEqual(values);
  });

  it('asks for the doorbell only when the reader said it sleeps, and once per sleep', () => {
    expect(reader.sleep()).toBe(false);
    expect(writer.write([Buffer.from('x')])).toBe('written, ring the doorbell');
    expect(writer.write([Buffer.from('y')])).toBe('written');
    expect(reader.sleep()).toBe(true); // entries waiting: read them instead of sleeping
    reader.wake();
    expect(writer.write([Buffer.from('z')])).toBe('written');
    expect(drained().entries).toEqual([['x'], ['y'], ['z']]);
  });
});
