import { MAX_HEADER_BYTES, packr, WireError } from './format.js';

/**
 * Values and envelope headers on the wire. A value travels as `[header, ...raw]` frames
 * ({@link encodeValue} / {@link decodeValue}, format in `format.ts`, rules in docs/api.md
 * "Values"); typed arrays and ArrayBuffers as raw frames (the seed's `send_array` / `recv_array`,
 * generalised to nested values), so a 1080p frame crosses the wire without being copied into an
 * encoder buffer.
 */
export {
  DTYPES,
  type Dtype,
  MAX_DEPTH,
  MAX_FRAME_BYTES,
  MAX_HEADER_BYTES,
  STRING_INLINE_MAX,
  WireError,
} from './format.js';
export { decodeValue } from './valueDecoder.js';
export { encodeValue } from './valueEncoder.js';

/** Encodes a small control structure (envelope header) as MessagePack. */
export function packHeader(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes a MessagePack header; throws {@link WireError} when malformed. */
export function unpackHeader(frame: Buffer | undefined): unknown {
  if (frame === undefined) throw new WireError('missing envelope header');
  if (frame.length > MAX_HEADER_BYTES) throw new WireError(`envelope header of ${frame.length} bytes is too large`);
  try {
    return packr.unpack(frame);
  } catch (error) {
    throw new WireError(`envelope header is not valid MessagePack: ${(error as Error).message}`);
  }
}
