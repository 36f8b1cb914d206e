import { type ChunkedFrame, withChunkedFrames } from './dataHeader.js';
import { MAX_FRAME_BYTES, MAX_HEADER_BYTES, WireError } from './format.js';

/**
 * Chunked frames: on tcp, a value's raw frame larger than {@link FRAME_CHUNK_BYTES} travels as
 * several consecutive ZeroMQ frames, so that every tcp socket can refuse any frame over
 * {@link MAX_TCP_FRAME_BYTES} (ZeroMQ's `maxMessageSize`). Without that bound, libzmq allocates
 * whatever size a frame announces before CURVE has authenticated its sender: a stranger could make a
 * task buffer up to 2 GiB ({@link MAX_FRAME_BYTES}) per connection until the handshake timed out.
 *
 * The data header lists the frames split (`[frame, bytes]`, `dataHeader.ts`); each travels as
 * ⌈bytes / {@link FRAME_CHUNK_BYTES}⌉ chunks in its place, all of {@link FRAME_CHUNK_BYTES} but the
 * last. The rule leaves nothing to choose, so the receiver checks every length before it copies.
 * Reassembly costs one copy, on the receiver, and only for frames over the chunk size; the sender
 * sends views of the original (no copy). Between tasks on one host (ipc, shared memory, rings)
 * nothing is split and this costs nothing.
 */

/**
 * The largest raw frame that travels whole on tcp: 16 MiB, the size of the largest value header
 * ({@link MAX_HEADER_BYTES}, never split), so one bound covers both; a 1080p RGB frame (6.2 MB) and
 * a 4K grey one (8.3 MB) stay one frame, a 4K RGB one (24.9 MB) takes two.
 */
export const FRAME_CHUNK_BYTES = MAX_HEADER_BYTES;

/**
 * ZeroMQ's `maxMessageSize` (a bound on each frame, not on a multipart message) on every tcp socket
 * of a run, both directions: a peer whose frame announces more is disconnected before anything is
 * allocated for it. The chunk size, plus room for framing: CURVE wraps each frame in a MESSAGE
 * command 33 bytes larger (measured: a 1 MiB bound refuses payloads over 1 MiB − 33), and libzmq
 * checks the wrapped size. No other frame vf sends is larger than a chunk: a value header is at most
 * as large, a batch's payload is bounded by it (`batchFrame.ts`), the rest are small.
 */
export const MAX_TCP_FRAME_BYTES = FRAME_CHUNK_BYTES + 64 * 1024;

/**
 * A data message's frames (`[data header, value header, ...raw frames]`) with every raw frame over
 * {@link FRAME_CHUNK_BYTES} split into chunks (views, not copies) and listed in a new data header;
 * `frames` itself when none is that large. The message's own frames are left as they were (it may
 * go to other children, or be re-sent).
 */
export function splitLargeFrames(frames: readonly Buffer[]): readonly Buffer[] {
  const chunked: ChunkedFrame[] = [];
  for (let index = 2; index < frames.length; index++) {
    const bytes = (frames[index] as Buffer).length;
    if (bytes > FRAME_CHUNK_BYTES) chunked.push([index - 1, bytes]);
  }
  if (chunked.length === 0) return frames;
  const out = [withChunkedFrames(frames[0] as Buffer, chunked), frames[1] as Buffer];
  for (let index = 2; index < frames.length; index++) {
    const frame = frames[index] as Buffer;
    if (frame.length <= FRAME_CHUNK_BYTES) out.push(frame);
    else for (let start = 0; start < frame.length; start += FRAME_CHUNK_BYTES) out.push(frame.subarray(start, start + FRAME_CHUNK_BYTES));
  }
  return out;
}

/**
 * The value frames of a data envelope whose `frameCount` frames start at `frames[first]`, the ones
 * in `chunked` (its data header's table) joined from their chunks; and the index after the last
 * chunk. The table and every chunk are checked before anything is copied: frames listed once each,
 * in order, raw frames of the value only, over the chunk size and within {@link MAX_FRAME_BYTES},
 * every chunk present and exactly as long as the rule says. Anything else throws {@link WireError};
 * what is allocated is at most the bytes that arrived.
 */
export function joinChunks(
  frames: readonly Buffer[],
  first: number,
  frameCount: number,
  chunked: readonly ChunkedFrame[],
): { valueFrames: Buffer[]; next: number } {
  let extra = 0;
  let previous = 0;
  for (const [frame, bytes] of chunked) {
    if (frame <= previous || frame >= frameCount) {
      throw new WireError(`data envelope: chunked frame ${frame} is not a raw frame of the value's ${frameCount}, in order`);
    }
    if (bytes <= FRAME_CHUNK_BYTES || bytes > MAX_FRAME_BYTES) {
      throw new WireError(
        `data envelope: chunked frame ${frame} of ${bytes} bytes, expected ${FRAME_CHUNK_BYTES + 1} to ${MAX_FRAME_BYTES}`,
      );
    }
    extra += Math.ceil(bytes / FRAME_CHUNK_BYTES) - 1;
    previous = frame;
  }
  const next = first + frameCount + extra;
  if (next > frames.length) {
    throw new WireError(`data envelope announces ${frameCount} value frames in ${frameCount + extra}, ${frames.length - first} present`);
  }
  const valueFrames: Buffer[] = [];
  let at = first;
  let listed = 0;
  for (let index = 0; index < frameCount; index++) {
    const entry = chunked[listed];
    if (entry === undefined || entry[0] !== index) {
      valueFrames.push(frames[at++] as Buffer);
      continue;
    }
    listed += 1;
    const bytes = entry[1];
    const chunks = frames.slice(at, at + Math.ceil(bytes / FRAME_CHUNK_BYTES));
    at += chunks.length;
    for (const [chunk, { length }] of chunks.entries()) {
      const expected = chunk < chunks.length - 1 ? FRAME_CHUNK_BYTES : bytes - FRAME_CHUNK_BYTES * chunk;
      if (length !== expected)
        throw new WireError(`data envelope: chunk ${chunk} of frame ${index} has ${length} bytes, expected ${expected}`);
    }
    valueFrames.push(Buffer.concat(chunks, bytes));
  }
  return { valueFrames, next };
}
