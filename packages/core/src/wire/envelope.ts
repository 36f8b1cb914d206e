import { unpackBatch } from './batchFrame.js';
import { decodeValue, unpackHeader, WireError } from './codec.js';
import { type DataHeaderFields, isCount, isDataHeader, parseDataHeader } from './dataHeader.js';
import { joinChunks } from './frameChunks.js';

/**
 * The envelopes of the data path, as parsed from ZeroMQ frames. Publisher → receiver:
 *   hello  `['h', taskId]`                      first message of every connection: who it claims to be
 *   proof  `['p', taskId, proof]`               its answer to the challenge (`transport/helloProof.ts`)
 *   data   a binary header (`dataHeader.ts`: seq, ticket, taskIndex, proctimeMs, actualProctimeMs,
 *          createdAt, n, timestamp?, shared? or chunked?) + the value's n frames (its header, then its raw frames:
 *          see `encodeValue`); `timestamp` only when stamped; `shared` `[[frame, segment, bytes], ...]`
 *          says which raw frames travel through shared memory (`transport/sharedFrames.ts`): those
 *          frames are empty, their bytes are in the named segment; `chunked` (tcp) lists the raw frames
 *          over `FRAME_CHUNK_BYTES` that travel as several frames each (`wire/frameChunks.ts`)
 *   end    `['e', reason]`                      the end of the stream; never dropped
 *   batch  `['b', [n1, n2, ...]]` + one payload frame: several of the envelopes above, their frames
 *          back to back in the payload (`wire/batchFrame.ts`)
 *   doorbell `['w']`                            entries wait in the shared ring (`transport/sharedRing.ts`) of a receiver that slept
 *   to ring  `['r']`                            the envelopes after this one are in the shared ring again
 *   done   `['f', [seq, ...]]`                  (`restartOnFailure`, to a replicated join) these origins are done:
 *          a replica that died had released their outputs, so a copy re-sent by another parent is not needed
 * Receiver → publisher:
 *   challenge `['n', challenge]`                the answer to a hello: prove you belong to this run
 *   grant  `['g', n]`                           room for n more data messages (on hello, or extra room)
 *   credit `['c', n]`                           n more of the publisher's messages were released: their room is free again
 *   ack    `['a']`                              the end arrived; the sender may close its socket
 *   ring   `['r']`                              the receiver mapped the publisher's shared ring: envelopes go there from now on
 *   wake   `['w']`                              room came back through the ring's counter (`transport/sharedRing.ts`)
 * One multipart message may hold several envelopes back to back: each says how many frames follow.
 */
export type WireEnvelope =
  | { readonly kind: 'hello'; readonly taskId: number }
  /** `proof`: 64 hex digits, checked by the receiver (`verifyHelloProof`). */
  | { readonly kind: 'proof'; readonly taskId: number; readonly proof: string }
  | ({ readonly kind: 'data'; readonly value: unknown } & DataHeaderFields)
  | { readonly kind: 'end'; readonly reason: 'completed' | 'stopped' }
  /** `frames`: the envelopes it carries, to be parsed in turn like frames of their own. */
  | { readonly kind: 'batch'; readonly frames: readonly Buffer[] }
  | { readonly kind: 'doorbell' }
  | { readonly kind: 'toRing' }
  /** `seqs`: origins whose input sets a lost replica of the receiver's node finished (see `ReplicaLink.recentlyConfirmed`). */
  | { readonly kind: 'done'; readonly seqs: readonly number[] };

/** The most origins one `done` envelope may name (a sender names far fewer: `transport/zmqMessenger.ts`, `ReplicaLink`). */
export const DONE_SEQS_MAX = 1 << 16;

/** What a publisher receives back. */
export type WireFeedback =
  | {
      readonly kind: 'credit';
      readonly count: number;
      /** True for `c` (the room of n released messages), false for `g` (room granted, nothing released). */
      readonly released: boolean;
    }
  /**
   * `k`: n more messages have arrived at a time join under `restartOnFailure`, which holds them (and
   * their room) until their group closes: they are safe there, so their sender may confirm its own
   * inputs upstream now (see `ReplicaLink.arrived`).
   */
  | { readonly kind: 'arrived'; readonly count: number }
  | { readonly kind: 'ack' }
  | { readonly kind: 'ring' }
  | { readonly kind: 'wake' }
  /** `challenge`: 64 hex digits to prove the run secret over. */
  | { readonly kind: 'challenge'; readonly challenge: string };

const HEX_256 = /^[0-9a-f]{64}$/;

/**
 * Parses the envelope that starts at `frames[at]`. Returns it and the index of the next envelope.
 * A batch is returned whole (its sub-frames unparsed); parse them with `batchAllowed` false.
 * Everything is checked before use (kind, field types, frame counts, and the value's raw frames
 * against their dtype and length); anything else throws {@link WireError}, never another error
 * (but a `ValueError` for a registered type this process lacks).
 */
export function parseEnvelope(
  frames: readonly Buffer[],
  at: number,
  shared?: SharedSegmentReader,
  batchAllowed = true,
): { envelope: WireEnvelope; next: number } {
  const header = frames[at];
  if (isDataHeader(header)) return parseData(frames, at, header as Buffer, shared);
  const fields = unpackHeader(header);
  if (!Array.isArray(fields) || typeof fields[0] !== 'string')
    throw new WireError('envelope header must be an array starting with its kind');
  switch (fields[0]) {
    case 'h': {
      if (fields.length !== 2 || !isCount(fields[1])) throw new WireError('hello envelope must be [h, taskId]');
      return { envelope: { kind: 'hello', taskId: fields[1] }, next: at + 1 };
    }
    case 'p': {
      if (fields.length !== 3 || !isCount(fields[1]) || typeof fields[2] !== 'string' || !HEX_256.test(fields[2])) {
        throw new WireError('proof envelope must be [p, taskId, 64 hex digits]');
      }
      return { envelope: { kind: 'proof', taskId: fields[1], proof: fields[2] }, next: at + 1 };
    }
    case 'e': {
      if (fields.length !== 2 || (fields[1] !== 'completed' && fields[1] !== 'stopped')) {
        throw new WireError('end envelope must be [e, completed | stopped]');
      }
      return { envelope: { kind: 'end', reason: fields[1] }, next: at + 1 };
    }
    case 'w':
    case 'r': {
      if (fields.length !== 1) throw new WireError(`${fields[0]} envelope must be [${fields[0]}]`);
      return { envelope: { kind: fields[0] === 'w' ? 'doorbell' : 'toRing' }, next: at + 1 };
    }
    case 'f': {
      const seqs = fields[1];
      if (fields.length !== 2 || !Array.isArray(seqs) || seqs.length > DONE_SEQS_MAX || !seqs.every(isCount)) {
        throw new WireError(`done envelope must be [f, [seq, ...]] with at most ${DONE_SEQS_MAX} seqs`);
      }
      return { envelope: { kind: 'done', seqs: seqs as number[] }, next: at + 1 };
    }
    case 'b': {
      // `batchAllowed` is false for the envelopes inside a batch: nesting would buy nothing.
      if (!batchAllowed) throw new WireError('batch envelope inside a batch');
      if (fields.length !== 2) throw new WireError('batch envelope must be [b, [frame lengths]] + payload');
      return { envelope: { kind: 'batch', frames: unpackBatch(fields[1], frames[at + 1]) }, next: at + 2 };
    }
    default:
      throw new WireError(`unknown envelope kind ${JSON.stringify(fields[0])}`);
  }
}

/** The data envelope whose header (binary, `dataHeader.ts`) is `frames[at]`. */
function parseData(
  frames: readonly Buffer[],
  at: number,
  header: Buffer,
  shared: SharedSegmentReader | undefined,
): { envelope: WireEnvelope; next: number } {
  const fields = parseDataHeader(header);
  const { frameCount, chunked } = fields;
  let valueFrames: Buffer[];
  let next: number;
  if (chunked === undefined) {
    if (frameCount < 1 || at + 1 + frameCount > frames.length) {
      throw new WireError(`data envelope announces ${frameCount} value frames, ${frames.length - at - 1} present`);
    }
    valueFrames = frames.slice(at + 1, at + 1 + frameCount);
    next = at + 1 + frameCount;
  } else ({ valueFrames, next } = joinChunks(frames, at + 1, frameCount, chunked));
  if (fields.shared !== undefined) readSharedFrames(fields.shared, valueFrames, shared);
  const value = decodeValue(valueFrames);
  const { seq, ticket, taskIndex, proctimeMs, actualProctimeMs, createdAt, timestamp } = fields;
  const envelope: WireEnvelope =
    timestamp === undefined
      ? { kind: 'data', seq, ticket, taskIndex, proctimeMs, actualProctimeMs, createdAt, value }
      : { kind: 'data', seq, ticket, taskIndex, proctimeMs, actualProctimeMs, createdAt, timestamp, value };
  return { envelope, next };
}

/** Reads a shared-memory segment named in a data envelope (`transport/sharedFrames.ts`). */
export interface SharedSegmentReader {
  read(name: unknown, byteLength: unknown): Buffer;
}

/** Puts the bytes of each segment referenced by a data envelope in place of its empty frame. */
function readSharedFrames(references: unknown, valueFrames: Buffer[], shared: SharedSegmentReader | undefined): void {
  if (shared === undefined) throw new WireError('data envelope references shared memory, which this task does not use');
  if (!Array.isArray(references)) throw new WireError('data envelope: shared frames must be an array');
  for (const reference of references) {
    const [index, name, byteLength] = Array.isArray(reference) ? reference : [];
    // Raw frames only (the value header, frame 0, always travels inline), each once, sent empty.
    if (!isCount(index) || index < 1 || index >= valueFrames.length || valueFrames[index]?.length !== 0) {
      throw new WireError(`data envelope: shared frame reference ${JSON.stringify(reference)} is invalid`);
    }
    valueFrames[index] = shared.read(name, byteLength);
  }
}

/** Parses a credit, grant, end-acknowledgement, ring-mapped, wake or challenge frame sent back to a publisher. Throws {@link WireError}. */
export function parseFeedback(frames: readonly Buffer[]): WireFeedback {
  if (frames.length !== 1) throw new WireError(`feedback message has ${frames.length} frames, expected 1`);
  const fields = unpackHeader(frames[0]);
  if (Array.isArray(fields) && fields.length === 1 && fields[0] === 'a') return { kind: 'ack' };
  if (Array.isArray(fields) && fields.length === 1 && fields[0] === 'r') return { kind: 'ring' };
  if (Array.isArray(fields) && fields.length === 1 && fields[0] === 'w') return { kind: 'wake' };
  if (Array.isArray(fields) && fields.length === 2 && fields[0] === 'n' && typeof fields[1] === 'string' && HEX_256.test(fields[1])) {
    return { kind: 'challenge', challenge: fields[1] };
  }
  if (Array.isArray(fields) && fields.length === 2 && (fields[0] === 'c' || fields[0] === 'g') && isCount(fields[1]) && fields[1] > 0) {
    return { kind: 'credit', count: fields[1], released: fields[0] === 'c' };
  }
  if (Array.isArray(fields) && fields.length === 2 && fields[0] === 'k' && isCount(fields[1]) && fields[1] > 0) {
    return { kind: 'arrived', count: fields[1] };
  }
  throw new WireError('feedback must be [c, n > 0], [g, n > 0], [k, n > 0], [a], [r], [w] or [n, challenge]');
}
