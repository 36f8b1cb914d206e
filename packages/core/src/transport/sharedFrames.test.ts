import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NATIVE_HELPER_PATH } from '../nativeHelper.js';
import { currentRunOwner, parseRunOwner, RUN_OWNER_FILE } from '../runtime/runOwner.js';
import { encodeValue } from '../wire/codec.js';
import { packDataHeader, parseDataHeader } from '../wire/dataHeader.js';
import { parseEnvelope } from '../wire/envelope.js';
import { SegmentMappingPolicy } from './segmentMapping.js';
import {
  createSharedDirectory,
  nativeSharedMemory,
  removeSharedDirectory,
  SHARED_FRAME_MIN_BYTES,
  SharedFrameReader,
  SharedFrameSender,
} from './sharedFrames.js';

const sha = (bytes: ArrayBufferView) =>
  createHash('sha256')
    .update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    .digest('hex');

/** A data message as publishMessage builds it: envelope header, then the value's frames. */
function dataMessage(value: unknown): Buffer[] {
  const frames = encodeValue(value);
  return [packDataHeader({ seq: 1, ticket: 1, taskIndex: 0, proctimeMs: 0, actualProctimeMs: 0, createdAt: 0 }, frames.length), ...frames];
}

/** Random bytes, so that a wrong offset or a stale segment shows in the hash. */
function noise(bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let index = 0; index < bytes; index++) data[index] = (index * 2654435761) >>> 24;
  return data;
}

/** The files senders and receivers made in a segment directory: all but its owner file. */
const segmentFiles = (directory: string) => readdirSync(directory).filter((name) => name !== RUN_OWNER_FILE);

/** Names receivers hold (links), as opposed to the senders' own pool segments (`<nonce>-p<n>`). */
const receiverLinks = (directory: string) => segmentFiles(directory).filter((name) => !/-p[0-9]+$/.test(name));

/** `gc()`, to let the test see mappings collected (their links then go). */
function exposeGc(): () => void {
  setFlagsFromString('--expose_gc');
  return runInNewContext('gc') as () => void;
}

/** This process's mappings of sender pool segments (`<nonce>-p<n>`) of `directory`. */
const poolMappings = (directory: string) =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes(`${directory}/`) && /-p[0-9]+$/.test(line.trim()));

/** The `data` field of the value of a data message sent with {@link dataMessage}, as `reader` reads it. */
const receivedData = (frames: readonly Buffer[], reader: SharedFrameReader) =>
  (parseEnvelope(frames, 0, reader).envelope as { value: { data: Uint8Array } }).value.data;

const readers = [
  ['mapped copy-on-write (native helper)', nativeSharedMemory()],
  ['read with a copy', null],
] as const;

describe.runIf(process.platform === 'linux')('shared frames', () => {
  let directory: string;
  beforeEach(() => {
    const created = createSharedDirectory();
    if (created === undefined) throw new Error('no /dev/shm on this machine');
    directory = created;
  });
  afterEach(() => removeSharedDirectory(directory));

  it('creates the run directory on tmpfs with mode 0700 and an unguessable name, and removes it whole', () => {
    expect(directory.startsWith('/dev/shm/')).toBe(true);
    expect(basename(directory)).toMatch(/^vf-[0-9a-f]{32}$/);
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    // Its owner file names this process: a later host removes the directory if this one is killed.
    expect(statSync(join(directory, RUN_OWNER_FILE)).mode & 0o777).toBe(0o600);
    expect(parseRunOwner(readFileSync(join(directory, RUN_OWNER_FILE), 'utf8'))).toEqual(currentRunOwner());
    writeFileSync(join(directory, 'left'), 'x');
    removeSharedDirectory(directory);
    expect(existsSync(directory)).toBe(false);
  });

  it('is built in this checkout (CI builds it at install): otherwise every frame costs a copy more', () => {
    expect(nativeSharedMemory()).not.toBeNull();
  });

  it('streams a frame into its segment byte for byte, whatever the alignment and the length', () => {
    const copyStreaming = nativeSharedMemory()?.copyStreaming;
    if (copyStreaming === undefined) throw new Error('the native helper has no copyStreaming');
    const source = new Uint8Array(1_000_037).map((_, index) => (index * 131 + 7) & 0xff);
    for (const [targetOffset, sourceOffset, length] of [
      [0, 0, 1_000_000],
      [3, 5, 999_999],
      [15, 1, 63],
      [1, 0, 0],
      [9, 2, 200_001],
    ] as const) {
      const target = new Uint8Array(1_000_100).fill(0xaa);
      copyStreaming(target.subarray(targetOffset), source.subarray(sourceOffset, sourceOffset + length));
      expect(sha(target.subarray(targetOffset, targetOffset + length))).toBe(sha(source.subarray(sourceOffset, sourceOffset + length)));
      expect(
        target.subarray(0, targetOffset).every((byte) => byte === 0xaa),
        'before',
      ).toBe(true);
      expect(
        target.subarray(targetOffset + length).every((byte) => byte === 0xaa),
        'after',
      ).toBe(true);
    }
    expect(() => copyStreaming(new Uint8Array(2), new Uint8Array(3))).toThrow(/no longer than target/);
  });

  it('leaves small frames inline and sends large ones as 0600 links, one per receiver, named in the envelope', () => {
    const sender = new SharedFrameSender(directory);
    const small = dataMessage({ data: new Uint8Array(SHARED_FRAME_MIN_BYTES - 1) });
    expect(sender.outgoing(small, 7)).toBe(small);
    const large = dataMessage({ data: new Uint8Array(SHARED_FRAME_MIN_BYTES), label: 'x' });
    const sent = sender.outgoing(large, 7);
    expect(sent[2]?.length).toBe(0);
    const references = parseDataHeader(sent[0] as Buffer).shared as Array<[number, string, number]>;
    expect(references).toEqual([[1, expect.stringMatching(/^[0-9a-f]{16}-7-[0-9]+$/), SHARED_FRAME_MIN_BYTES]]);
    for (const name of readdirSync(directory)) expect(statSync(join(directory, name)).mode & 0o777).toBe(0o600);
    expect(sender.pooledBytes).toBe(SHARED_FRAME_MIN_BYTES);
  });

  it('keeps a producer-stamped timestamp beside the segment references (a time join behind shared frames)', () => {
    const frames = encodeValue({ data: noise(SHARED_FRAME_MIN_BYTES) });
    for (const timestamp of [undefined, 1234.5]) {
      const meta = { seq: 1, ticket: 1, taskIndex: 0, proctimeMs: 0, actualProctimeMs: 0, createdAt: 0 };
      const stamped = [packDataHeader(timestamp === undefined ? meta : { ...meta, timestamp }, frames.length), ...frames];
      const sent = new SharedFrameSender(directory).outgoing(stamped, 1);
      const { envelope } = parseEnvelope(sent, 0, new SharedFrameReader(directory));
      if (envelope.kind !== 'data') throw new Error('not data');
      expect(envelope.timestamp).toBe(timestamp);
      expect(sha((envelope.value as { data: Uint8Array }).data)).toBe(sha(noise(SHARED_FRAME_MIN_BYTES)));
    }
  });

  for (const [how, mapper] of readers) {
    describe(how, () => {
      it('round-trips every view kind byte-identical, with offsets, lengths and shared buffers kept', () => {
        const buffer = noise(3 * SHARED_FRAME_MIN_BYTES).buffer;
        const value = {
          bytes: new Uint8Array(buffer, 8, 2 * SHARED_FRAME_MIN_BYTES),
          floats: new Float64Array(buffer, 16, SHARED_FRAME_MIN_BYTES / 8),
          view: new DataView(buffer, 24, 100),
          own: Buffer.from(noise(SHARED_FRAME_MIN_BYTES * 2)),
          ints: new Int16Array(noise(SHARED_FRAME_MIN_BYTES * 4).buffer, 2),
          text: 'é'.repeat(SHARED_FRAME_MIN_BYTES + 1),
        };
        const sent = new SharedFrameSender(directory, { native: mapper }).outgoing(dataMessage(value), 1);
        expect(sent.filter((frame) => frame.length === 0).length).toBe(4);
        const { envelope } = parseEnvelope(sent, 0, new SharedFrameReader(directory, mapper));
        if (envelope.kind !== 'data') throw new Error('not data');
        const got = envelope.value as typeof value;
        for (const key of ['bytes', 'floats', 'view', 'own', 'ints'] as const) {
          expect(got[key].constructor).toBe(value[key].constructor);
          expect(got[key].byteLength).toBe(value[key].byteLength);
          expect(sha(got[key])).toBe(sha(value[key]));
        }
        expect(got.text).toBe(value.text);
        // Views of one buffer still share it after the trip.
        expect(got.floats.buffer).toBe(got.bytes.buffer);
        expect(got.view.buffer).toBe(got.bytes.buffer);
        expect(got.floats.byteOffset - got.bytes.byteOffset).toBe(8);
        got.bytes[8] = (got.bytes[8] ?? 0) ^ 0xff;
        expect(new Uint8Array(got.floats.buffer, got.floats.byteOffset, 1)[0]).toBe(got.bytes[8]);
      });

      it('fans one frame out as links to one segment; a receiver that mutates its copy changes neither sibling nor sender', () => {
        const data = noise(SHARED_FRAME_MIN_BYTES * 4);
        const original = sha(data);
        const sender = new SharedFrameSender(directory, { native: mapper });
        const message = dataMessage({ data });
        const toA = sender.outgoing(message, 1);
        const toB = sender.outgoing(message, 2);
        const inodes = new Set(segmentFiles(directory).map((name) => statSync(join(directory, name)).ino));
        expect(receiverLinks(directory)).toHaveLength(2);
        expect(inodes.size).toBe(1);
        const reader = new SharedFrameReader(directory, mapper);
        const a = (parseEnvelope(toA, 0, reader).envelope as { value: { data: Uint8Array } }).value.data;
        a.fill(0xee);
        const b = (parseEnvelope(toB, 0, reader).envelope as { value: { data: Uint8Array } }).value.data;
        expect(sha(b)).toBe(original);
        expect(sha(data)).toBe(original);
        // The sender changing its frame after the send reaches no receiver either.
        const toC = sender.outgoing(dataMessage({ data }), 3);
        data.fill(1);
        const c = (parseEnvelope(toC, 0, reader).envelope as { value: { data: Uint8Array } }).value.data;
        expect(sha(c)).toBe(original);
        // A segment some receiver still holds is never reused: the next frame took another one.
        expect(sha(a)).toBe(sha(new Uint8Array(a.length).fill(0xee)));
        expect(sha(b)).toBe(original);
      });
    });
  }

  it('a segment is reused once every receiver let go of it (read, or its mapping collected), never before', async () => {
    const gc = exposeGc();
    for (const [, mapper] of readers) {
      const sender = new SharedFrameSender(directory, { native: mapper });
      const reader = new SharedFrameReader(directory, mapper);
      const receive = (frames: readonly Buffer[]) =>
        (parseEnvelope(frames, 0, reader).envelope as { value: { data: Uint8Array } }).value.data;
      let held: Uint8Array | undefined = receive(sender.outgoing(dataMessage({ data: noise(SHARED_FRAME_MIN_BYTES) }), 1));
      const heldSha = sha(held);
      receive(sender.outgoing(dataMessage({ data: new Uint8Array(SHARED_FRAME_MIN_BYTES).fill(3) }), 1));
      expect(sha(held)).toBe(heldSha);
      // Mapped: the held segment stays in use until its buffer is collected, so the second frame took
      // another; read: the first came free on arrival, so the second reused it.
      const pooled = (mapper === null ? 1 : 2) * SHARED_FRAME_MIN_BYTES;
      expect(sender.pooledBytes).toBe(pooled);
      held = undefined;
      const deadline = Date.now() + 10_000;
      while (receiverLinks(directory).length > 0 && Date.now() < deadline) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(receiverLinks(directory)).toEqual([]);
      receive(sender.outgoing(dataMessage({ data: noise(SHARED_FRAME_MIN_BYTES) }), 1));
      expect(sender.pooledBytes).toBe(pooled);
      sender.close();
      while (segmentFiles(directory).length > 0 && Date.now() < deadline) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(segmentFiles(directory)).toEqual([]);
    }
  });

  it.runIf(nativeSharedMemory() !== null)(
    'writes a segment with pwrite when new and until its policy says map, the same bytes either way',
    () => {
      // Mapping a new tmpfs file zeroes each page before the copy; a write that fills whole pages does not.
      class MapOnThirdReuse extends SegmentMappingPolicy {
        override shouldMap(rentedWrites: number): boolean {
          return rentedWrites >= 2;
        }
      }
      const sender = new SharedFrameSender(directory, { mapping: new MapOnThirdReuse() });
      const reader = new SharedFrameReader(directory, null);
      const mappedAfterEach: number[] = [];
      for (let index = 0; index < 5; index++) {
        const frame = noise(SHARED_FRAME_MIN_BYTES).map((byte) => byte ^ index);
        expect(sha(receivedData(sender.outgoing(dataMessage({ data: frame }), 1), reader))).toBe(sha(frame));
        mappedAfterEach.push(poolMappings(directory).length);
      }
      // Made, written twice, mapped on the third reuse, then copied into its mapping.
      expect(mappedAfterEach).toEqual([0, 0, 0, 1, 1]);
      expect(sender.stats).toMatchObject({ poolMisses: 1, poolHits: 4, copied: 5, segmentsMapped: 1 });
      sender.close();
    },
  );

  it.runIf(nativeSharedMemory() !== null)('a receiver that allocates nothing else still lets go of dead mappings at scavenges', () => {
    // A process that only maps frames: V8 checks its young generation's buffer bytes only when an
    // ArrayBuffer is allocated, so without the helper's doing so its dead mappings (and the links
    // that hold senders' segments) would wait for a full collection.
    const bytes = 4 * 1024 * 1024;
    const segment = join(directory, 'segment');
    writeFileSync(segment, Buffer.alloc(bytes, 1));
    const names = Array.from({ length: 40 }, (_, index) => {
      const name = join(directory, `0123456789abcdef-1-${index}`);
      linkSync(segment, name);
      return name;
    });
    const receiver = [
      'const [helper, bytes, ...names] = process.argv.slice(1);',
      'const { map } = require(helper);',
      "const { existsSync } = require('node:fs');",
      'for (const name of names) map(name, Number(bytes), false);',
      // Finalizers (unmap, unlink) run from the event loop some time after the collection that found
      // the buffers dead: look again for up to 5 s. The looking allocates no buffer, so it causes no
      // collection of its own (without the helper's allocation, all 40 links stay).
      'const left = () => { let count = 0; for (const name of names) if (existsSync(name)) count += 1; return count; };',
      'const deadline = Date.now() + 5000;',
      'const look = () => (left() < names.length / 2 || Date.now() > deadline ? console.log(left()) : setTimeout(look, 10));',
      'setImmediate(look);',
    ].join('\n');
    const helper = NATIVE_HELPER_PATH;
    const child = spawnSync(process.execPath, ['-e', receiver, helper, String(bytes), ...names], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).toBe('');
    expect(Number(child.stdout.trim())).toBeLessThan(names.length / 2);
  });

  it('removes the links of a lost receiver, and its own segments on close', () => {
    const sender = new SharedFrameSender(directory);
    sender.outgoing(dataMessage({ data: noise(SHARED_FRAME_MIN_BYTES) }), 1);
    sender.outgoing(dataMessage({ data: noise(SHARED_FRAME_MIN_BYTES) }), 2);
    expect(receiverLinks(directory)).toHaveLength(2);
    sender.lost(1);
    expect(receiverLinks(directory)).toEqual([expect.stringMatching(/-2-[0-9]+$/)]);
    sender.lost(2);
    sender.close();
    expect(segmentFiles(directory)).toEqual([]);
    expect(sender.pooledBytes).toBe(0);
  });

  it('sends frames inline once its pool is full and in use, and shares again once a segment is free', () => {
    const sender = new SharedFrameSender(directory, { maxBytes: 2 * SHARED_FRAME_MIN_BYTES, native: null });
    const reader = new SharedFrameReader(directory, null);
    const message = () => dataMessage({ data: noise(SHARED_FRAME_MIN_BYTES) });
    const shared = (frames: readonly Buffer[]) => frames[2]?.length === 0;
    const first = sender.outgoing(message(), 1);
    expect(shared(first)).toBe(true);
    expect(shared(sender.outgoing(message(), 1))).toBe(true);
    const inline = sender.outgoing(message(), 1);
    expect(shared(inline)).toBe(false);
    expect(inline[2]?.length).toBe(SHARED_FRAME_MIN_BYTES);
    parseEnvelope(first, 0, reader);
    expect(shared(sender.outgoing(message(), 1))).toBe(true);
    expect(sender.pooledBytes).toBe(2 * SHARED_FRAME_MIN_BYTES);
  });

  it('falls back to inline when the directory is gone (the run is ending)', () => {
    const sender = new SharedFrameSender(join(directory, 'missing'));
    const frames = dataMessage({ data: noise(SHARED_FRAME_MIN_BYTES) });
    expect(sender.outgoing(frames, 1)).toBe(frames);
  });

  describe.runIf(nativeSharedMemory() !== null)('forwarding a received frame (native helper)', () => {
    const native = nativeSharedMemory() as NonNullable<ReturnType<typeof nativeSharedMemory>>;
    /** The data of a message received by `reader`. */
    const receive = (frames: readonly Buffer[], reader: SharedFrameReader) =>
      (parseEnvelope(frames, 0, reader).envelope as { value: { data: Uint8Array } }).value.data;
    const inode = (name: string) => statSync(join(directory, name)).ino;
    const referenceOf = (frames: readonly Buffer[]) =>
      ((parseDataHeader(frames[0] as Buffer).shared as Array<[number, string, number]>)[0] as [number, string, number])[1];

    it('unwritten(): true for a fresh or only read private mapping, false once any page of it is written', () => {
      const sent = new SharedFrameSender(directory).outgoing(dataMessage({ data: noise(SHARED_FRAME_MIN_BYTES * 8) }), 1);
      const data = receive(sent, new SharedFrameReader(directory));
      expect(native.unwritten(data.buffer as ArrayBuffer)).toBe(true);
      let sum = 0;
      for (let index = 0; index < data.length; index += 512) sum += data[index] ?? 0;
      expect(sum).toBeGreaterThan(0);
      expect(native.unwritten(data.buffer as ArrayBuffer)).toBe(true);
      // One byte in the last page: the whole range is checked, not only its start.
      data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 1;
      expect(native.unwritten(data.buffer as ArrayBuffer)).toBe(false);
      // Memory of the task's own heap, written: anonymous pages.
      expect(native.unwritten(noise(SHARED_FRAME_MIN_BYTES).buffer as ArrayBuffer)).toBe(false);
      expect(() => (native.unwritten as (value: unknown) => boolean)('not a buffer')).toThrow(TypeError);
    });

    it('a frame sent on unchanged is a new link to the same segment: no copy, no pool of its own', () => {
      const original = noise(SHARED_FRAME_MIN_BYTES * 4);
      const producer = new SharedFrameSender(directory);
      const fromProducer = producer.outgoing(dataMessage({ data: original }), 1);
      const middleReader = new SharedFrameReader(directory);
      const middle = new SharedFrameSender(directory, { received: middleReader });
      const data = receive(fromProducer, middleReader);
      const toA = middle.outgoing(dataMessage({ data }), 2);
      const toB = middle.outgoing(dataMessage({ data }), 3);
      expect(middle.pooledBytes).toBe(0);
      expect(middle.stats).toMatchObject({ forwarded: 2, copied: 0 });
      expect(referenceOf(toA)).toMatch(/^[0-9a-f]{16}-2-[0-9]+$/);
      expect(inode(referenceOf(toA))).toBe(inode(referenceOf(fromProducer)));
      expect(inode(referenceOf(toB))).toBe(inode(referenceOf(fromProducer)));
      const reader = new SharedFrameReader(directory);
      const a = receive(toA, reader);
      expect(sha(a)).toBe(sha(original));
      // A receiver downstream mutating its copy reaches neither its sibling nor the forwarder.
      a.fill(0xee);
      expect(sha(receive(toB, reader))).toBe(sha(original));
      expect(sha(data)).toBe(sha(original));
      // Forwarded again by the same task, later: another link, same bytes.
      const again = middle.outgoing(dataMessage({ data }), 2);
      expect(sha(receive(again, reader))).toBe(sha(original));
      expect(middle.stats.forwarded).toBe(3);
    });

    it('a frame written to, a part of one, or one read without the helper is copied as before', () => {
      const producer = new SharedFrameSender(directory);
      const middleReader = new SharedFrameReader(directory);
      const middle = new SharedFrameSender(directory, { received: middleReader });
      const reader = new SharedFrameReader(directory);
      const original = noise(SHARED_FRAME_MIN_BYTES * 4);
      const fromProducer = producer.outgoing(dataMessage({ data: original }), 1);
      const sibling = producer.outgoing(dataMessage({ data: original }), 9);
      const data = receive(fromProducer, middleReader);
      data[SHARED_FRAME_MIN_BYTES] = (data[SHARED_FRAME_MIN_BYTES] ?? 0) ^ 0xff;
      const modified = middle.outgoing(dataMessage({ data }), 2);
      expect(middle.stats).toMatchObject({ forwarded: 0, copied: 1 });
      expect(inode(referenceOf(modified))).not.toBe(inode(referenceOf(fromProducer)));
      expect(sha(receive(modified, reader))).toBe(sha(data));
      // The producer's segment, which the sibling reads, kept the original bytes.
      expect(sha(receive(sibling, reader))).toBe(sha(original));

      const whole = receive(producer.outgoing(dataMessage({ data: original }), 1), middleReader);
      middle.outgoing(dataMessage({ data: whole.subarray(0, SHARED_FRAME_MIN_BYTES * 2) }), 2);
      expect(middle.stats).toMatchObject({ forwarded: 0, copied: 2 });

      // Only what a reader of the same directory received can be linked from.
      expect(() => new SharedFrameSender(directory, { received: new SharedFrameReader('/dev/shm/elsewhere') })).toThrow(RangeError);

      const copyingReader = new SharedFrameReader(directory, null);
      const viaCopy = new SharedFrameSender(directory, { received: copyingReader });
      const read = receive(producer.outgoing(dataMessage({ data: original }), 1), copyingReader);
      viaCopy.outgoing(dataMessage({ data: read }), 2);
      expect(viaCopy.stats).toMatchObject({ forwarded: 0, copied: 1 });
    });

    it("the producer's segment comes free only once the forwarder and every receiver downstream let go", async () => {
      const gc = exposeGc();
      const producer = new SharedFrameSender(directory);
      const middleReader = new SharedFrameReader(directory);
      const middle = new SharedFrameSender(directory, { received: middleReader });
      const reader = new SharedFrameReader(directory);
      const first = noise(SHARED_FRAME_MIN_BYTES);
      let data: Uint8Array | undefined = receive(producer.outgoing(dataMessage({ data: first }), 1), middleReader);
      let downstream: Uint8Array | undefined = receive(middle.outgoing(dataMessage({ data }), 2), reader);
      data = undefined;
      const deadline = Date.now() + 10_000;
      while (receiverLinks(directory).length > 1 && Date.now() < deadline) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      // The forwarder let go, the receiver downstream did not: the producer takes a new segment.
      expect(receiverLinks(directory)).toHaveLength(1);
      receive(producer.outgoing(dataMessage({ data: new Uint8Array(SHARED_FRAME_MIN_BYTES).fill(3) }), 1), middleReader);
      expect(producer.stats).toMatchObject({ poolHits: 0, poolMisses: 2 });
      expect(sha(downstream)).toBe(sha(first));
      downstream = undefined;
      while (receiverLinks(directory).length > 0 && Date.now() < deadline) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(receiverLinks(directory)).toEqual([]);
      producer.outgoing(dataMessage({ data: first }), 1);
      expect(producer.stats).toMatchObject({ poolHits: 1, poolMisses: 2 });
    });
  });

  it('refuses names outside the run directory, unknown segments and a wrong size, as WireError', () => {
    const reader = new SharedFrameReader(directory);
    expect(() => reader.read('../../etc/passwd', 10)).toThrow(expect.objectContaining({ code: 'WIRE_FORMAT' }));
    expect(() => reader.read('0123456789abcdef-1-1', 10)).toThrow(/cannot be (mapped|opened)/);
    const sent = new SharedFrameSender(directory).outgoing(dataMessage({ data: noise(SHARED_FRAME_MIN_BYTES) }), 1);
    const [reference] = parseDataHeader(sent[0] as Buffer).shared as Array<[number, string, number]>;
    expect(() => reader.read(reference?.[1], SHARED_FRAME_MIN_BYTES + 1)).toThrow(expect.objectContaining({ code: 'WIRE_FORMAT' }));
    expect(receiverLinks(directory)).toEqual([]);
    // A receiver without shared memory refuses references instead of guessing.
    expect(() => parseEnvelope(sent, 0)).toThrow(/shared memory/);
  });
});

describe('shared directory where there is no tmpfs', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'vf-shm-root-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('is not created: frames then travel inline', () => {
    expect(createSharedDirectory(join(root, 'absent'))).toBeUndefined();
  });
});

describe('a tmpfs too small for a frame', () => {
  it('sends the frame inline instead of dying of SIGBUS when the pool segment cannot be backed', { timeout: 60_000 }, (context) => {
    if (nativeSharedMemory() === null) return context.skip('the native helper is not built');
    // A 4 MB tmpfs of its own (Docker's /dev/shm is 64 MB): needs mount privileges.
    const root = mkdtempSync(join(tmpdir(), 'vf-small-shm-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', root]).status === 0;
    try {
      if (!mounted) return context.skip('cannot mount a tmpfs here (not root)');
      const child = spawnSync(
        process.execPath,
        [
          '--import',
          createRequire(import.meta.url).resolve('tsx'),
          '--conditions=@vf/source',
          new URL('./fixtures/sendIntoFullShm.ts', import.meta.url).pathname,
          root,
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect({ signal: child.signal, status: child.status, stderr: child.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
      const results = child.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { bytes: number; inline: boolean });
      // 6 MB cannot fit at all; 3 MB fits in the 4 MB tmpfs and goes through shared memory.
      expect(results).toEqual([
        { bytes: 6 * 1024 * 1024, inline: true },
        { bytes: 3 * 1024 * 1024, inline: false },
      ]);
      expect(readdirSync(root)).toEqual([]);
    } finally {
      if (mounted) execFileSync('umount', [root]);
      rmdirSync(root);
    }
  });
});
