import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CONTROL_PROTOCOL_VERSION } from '../runtime/controlProtocol.js';
import { packBatch } from './batchFrame.js';
import { encodeValue, packHeader } from './codec.js';
import { packDataHeader, withChunkedFrames, withSharedReferences } from './dataHeader.js';
import { FRAME_CHUNK_BYTES, MAX_TCP_FRAME_BYTES } from './frameChunks.js';

/**
 * The data path's wire format, by the control protocol version that stands for it: a hash of the
 * bytes of a sample of every kind of frame (see `format.ts`, `dataHeader.ts`, `batchFrame.ts`,
 * `envelope.ts`). Tasks compare versions at their first control message, never the wire format
 * itself: a format changed under the same version let a task of an older vf pass that check and
 * fail later, on its first data message (`WireError: unknown envelope kind`).
 */
const WIRE_FORMAT_BY_VERSION: Readonly<Record<number, string>> = {
  4: '8a1ee9d1801accbc2a53866fc1d5ade4d7120ff0c2703da20ce89fab7afa5842',
  5: 'ca6ab5ee7fb7d4eeee670e1e4bc310a1c8eac2f5d27c449f9d6475c33d6bbd2d',
  // Version 6 changed control messages only (the deadlock watch's probe, queues and lend).
  6: 'ca6ab5ee7fb7d4eeee670e1e4bc310a1c8eac2f5d27c449f9d6475c33d6bbd2d',
};

/** The frames of one sample of each kind, concatenated with their lengths. */
function sampleFrames(): Buffer {
  const fields = { seq: 7, ticket: 3, taskIndex: 1, proctimeMs: 0.25, actualProctimeMs: 0.5, createdAt: 1_700_000_000_000.5 };
  const plain = encodeValue({ index: 7, label: 'seven', nested: [1.5, null, true, 'x'] });
  const tagged = encodeValue({ pixels: new Float32Array([1, -2.5, 3]), when: new Date(0), names: new Map([['a', 1n]]) });
  const frames: Buffer[] = [
    packDataHeader(fields, plain.length),
    ...plain,
    withSharedReferences(packDataHeader({ ...fields, timestamp: 1_700_000_000_001.25 }, tagged.length), [[1, 'seg-1', 12]]),
    ...tagged,
    ...packBatch([[packDataHeader(fields, plain.length), ...plain], [packHeader(['e', 'completed'])]]),
    packHeader(['h', 4]),
    packHeader(['g', 16]),
    packHeader(['c', 2]),
    packHeader(['k', 2]),
    packHeader(['a']),
    packHeader(['r']),
    packHeader(['w']),
    packHeader(['f', [3, 9]]),
    // Chunked frames (tcp): the table, and the sizes a receiver holds a sender to.
    withChunkedFrames(packDataHeader(fields, tagged.length), [[1, 2 * FRAME_CHUNK_BYTES + 5]]),
    Buffer.from(`${FRAME_CHUNK_BYTES} ${MAX_TCP_FRAME_BYTES}`),
  ];
  return Buffer.concat(frames.flatMap((frame) => [Buffer.from(String(frame.length)), frame]));
}

describe('the wire format and the protocol version', () => {
  it('is the format pinned for this protocol version (a change to the format bumps CONTROL_PROTOCOL_VERSION)', () => {
    const format = createHash('sha256').update(sampleFrames()).digest('hex');
    expect(
      WIRE_FORMAT_BY_VERSION[CONTROL_PROTOCOL_VERSION],
      'the data path wire format changed: bump CONTROL_PROTOCOL_VERSION (controlProtocol.ts, and HEARTBEAT_PROTOCOL in native/vfShm.c), then pin the new format here under it',
    ).toBe(format);
  });
});
