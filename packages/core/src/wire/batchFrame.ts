import { describeReceived } from '../errors.js';
import { packHeader } from './codec.js';
import { WireError } from './format.js';
import { FRAME_CHUNK_BYTES } from './frameChunks.js';

/**
 * Batch frames: several small envelopes in one pair of ZeroMQ frames, so that a burst (messages
 * released together by credit, a credit window's worth of a fast producer) costs the receiver one
 * frame to allocate and one envelope header to read per burst rather than two frames per message.
 *
 *   batch `['b', [n1, n2, ...]]` + one payload frame: the envelopes' frames back to back, `n1` bytes,
 *         then `n2` bytes, ... Each sub-frame is what the envelope would have been sent as on its own;
 *         the receiver parses them exactly like frames of their own (a batch inside a batch is refused).
 *
 * Large envelopes (a frame, a tensor) are never copied into a batch: they travel as their own frames.
 * A payload never exceeds {@link MAX_BATCH_PAYLOAD_BYTES}: a longer run of small envelopes is cut into
 * several batches.
 */

/** An envelope larger than this (all its frames) travels as its own frames, not copied into a batch. */
export const BATCHABLE_ENVELOPE_BYTES = 16 * 1024;

/** Most sub-frames one batch may announce: a bound on what a receiver allocates for one header. */
export const MAX_BATCH_FRAMES = 65_536;

/**
 * Most bytes of one batch's payload: a frame no larger than a tcp socket accepts
 * (`frameChunks.ts`). Without it a backlog of small envelopes (a large `queueSize` released at
 * once) made one payload of up to 65,536 × 16 KiB, and a tcp receiver would drop the connection.
 */
export const MAX_BATCH_PAYLOAD_BYTES = FRAME_CHUNK_BYTES;

function envelopeBytes(envelope: readonly Buffer[]): number {
  let total = 0;
  for (const frame of envelope) total += frame.length;
  return total;
}

/** Packs small envelopes (at least one) into a batch: its header frame and its payload frame. */
export function packBatch(envelopes: readonly (readonly Buffer[])[]): [Buffer, Buffer] {
  const subFrames = envelopes.flat();
  if (subFrames.length === 0 || subFrames.length > MAX_BATCH_FRAMES) {
    throw new RangeError(`a batch holds 1 to ${MAX_BATCH_FRAMES} frames, not ${subFrames.length}`);
  }
  return [packHeader(['b', subFrames.map((frame) => frame.length)]), Buffer.concat(subFrames)];
}

/**
 * The frames of one ZeroMQ message carrying small `envelopes` (each at most
 * {@link BATCHABLE_ENVELOPE_BYTES}) in order: a lone envelope keeps its own frames (no copy), a run
 * of them becomes one batch, or several where one would pass {@link MAX_BATCH_FRAMES} or
 * {@link MAX_BATCH_PAYLOAD_BYTES}.
 */
export function packSmallEnvelopes(envelopes: readonly (readonly Buffer[])[]): Buffer[] {
  if (envelopes.length === 1) return [...(envelopes[0] as readonly Buffer[])];
  const out: Buffer[] = [];
  let run: (readonly Buffer[])[] = [];
  let runFrames = 0;
  let runBytes = 0;
  const endRun = () => {
    if (run.length === 1) out.push(...(run[0] as readonly Buffer[]));
    else if (run.length > 1) out.push(...packBatch(run));
    run = [];
    runFrames = 0;
    runBytes = 0;
  };
  for (const envelope of envelopes) {
    const bytes = envelopeBytes(envelope);
    if (runFrames + envelope.length > MAX_BATCH_FRAMES || runBytes + bytes > MAX_BATCH_PAYLOAD_BYTES) endRun();
    run.push(envelope);
    runFrames += envelope.length;
    runBytes += bytes;
  }
  endRun();
  return out;
}

/**
 * Splits a batch's payload into its sub-frames (views, not copies) after checking the header's
 * lengths against it. `lengths` is the header's second field, unchecked. Throws {@link WireError}.
 */
export function unpackBatch(lengths: unknown, payload: Buffer | undefined): Buffer[] {
  if (!Array.isArray(lengths) || lengths.length === 0 || lengths.length > MAX_BATCH_FRAMES) {
    throw new WireError(`batch envelope must list 1 to ${MAX_BATCH_FRAMES} frame lengths`);
  }
  if (payload === undefined) throw new WireError('batch envelope has no payload frame');
  const frames: Buffer[] = [];
  let offset = 0;
  for (const length of lengths) {
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0 || offset + length > payload.length) {
      throw new WireError(`batch envelope: frame length ${describeReceived(length)} does not fit its ${payload.length}-byte payload`);
    }
    frames.push(payload.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== payload.length) throw new WireError(`batch envelope: frames take ${offset} of its ${payload.length} payload bytes`);
  return frames;
}

/**
 * The ZeroMQ messages carrying `envelopes` in order: each run of small envelopes shares a message
 * ({@link packSmallEnvelopes}), and every large one has a message of its own, uncopied. A receiver takes a
 * ZeroMQ message only once all of it has landed: a burst of large frames in one message kept it
 * idle until the last one was in (a batch of 8 inline 1080p frames, ~50 MB, 250 ms here) where it
 * could have worked on each as it came.
 */
export function zmqMessages(envelopes: readonly (readonly Buffer[])[]): Buffer[][] {
  if (envelopes.length === 1) return [[...(envelopes[0] as readonly Buffer[])]];
  const messages: Buffer[][] = [];
  let small: (readonly Buffer[])[] = [];
  for (const envelope of envelopes) {
    if (envelopeBytes(envelope) <= BATCHABLE_ENVELOPE_BYTES) {
      small.push(envelope);
      continue;
    }
    if (small.length > 0) messages.push(packSmallEnvelopes(small));
    small = [];
    messages.push([...envelope]);
  }
  if (small.length > 0) messages.push(packSmallEnvelopes(small));
  return messages;
}
