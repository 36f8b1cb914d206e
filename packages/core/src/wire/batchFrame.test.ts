import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BATCHABLE_ENVELOPE_BYTES, packBatch, packSmallEnvelopes, unpackBatch, zmqMessages } from './batchFrame.js';
import { encodeValue, packHeader, WireError } from './codec.js';
import { packDataHeader } from './dataHeader.js';
import { parseEnvelope, type WireEnvelope } from './envelope.js';

/** A data envelope's frames for `value`, as a publisher builds them. */
function dataEnvelope(value: unknown, seq: number): Buffer[] {
  const frames = encodeValue(value);
  const meta = { seq, ticket: seq, taskIndex: 0, proctimeMs: 0.5, actualProctimeMs: 1.5, createdAt: 1_700_000_000_000 };
  return [packDataHeader(meta, frames.length), ...frames];
}

/** Parses a whole ZeroMQ message as a receiver does: batches opened, their envelopes parsed in turn. */
function receive(frames: readonly Buffer[]): WireEnvelope[] {
  const envelopes: WireEnvelope[] = [];
  for (let at = 0; at < frames.length; ) {
    const { envelope, next } = parseEnvelope(frames, at);
    if (envelope.kind === 'batch') {
      for (let inner = 0; inner < envelope.frames.length; ) {
        const parsed = parseEnvelope(envelope.frames, inner, undefined, false);
        envelopes.push(parsed.envelope);
        inner = parsed.next;
      }
    } else {
      envelopes.push(envelope);
    }
    at = next;
  }
  return envelopes;
}

function expectWireError(parse: () => unknown): void {
  let thrown: unknown;
  try {
    parse();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(WireError);
  expect((thrown as WireError).code).toBe('WIRE_FORMAT');
}

describe('batch frames', () => {
  it('carry several envelopes in two frames; the receiver gets them back in order, values intact', () => {
    const values = [{ index: 0, label: 'car' }, new Float32Array([1.5, -2]), 'text', { nested: [1n, new Map([['k', 2]])] }];
    const envelopes = [...values.map((value, seq) => dataEnvelope(value, seq)), [packHeader(['e', 'completed'])]];
    const frames = packSmallEnvelopes(envelopes);
    expect(frames).toHaveLength(2);
    const received = receive(frames);
    expect(received.map((envelope) => envelope.kind)).toEqual(['data', 'data', 'data', 'data', 'end']);
    expect(received.slice(0, 4).map((envelope) => (envelope.kind === 'data' ? envelope.value : undefined))).toEqual(values);
    expect(received.slice(0, 4).map((envelope) => (envelope.kind === 'data' ? envelope.seq : -1))).toEqual([0, 1, 2, 3]);
  });

  it('go out as ZeroMQ messages in which every large envelope has a message of its own, uncopied, in order', () => {
    const big = (seq: number) => dataEnvelope(new Uint8Array(BATCHABLE_ENVELOPE_BYTES + 1).fill(seq), seq);
    const first = big(0);
    const envelopes = [first, big(1), dataEnvelope(2, 2), dataEnvelope(3, 3), big(4), dataEnvelope(5, 5)];
    const messages = zmqMessages(envelopes);
    // big, big, a batch of two small ones, big, a lone small one: a receiver takes each large frame as it lands
    expect(messages.map((message) => message.length)).toEqual([
      first.length,
      first.length,
      2,
      first.length,
      (envelopes[5] as Buffer[]).length,
    ]);
    expect(messages[0]?.every((frame, index) => frame === first[index])).toBe(true);
    const received = messages.flatMap((message) => receive(message));
    expect(received.map((envelope) => (envelope.kind === 'data' ? envelope.seq : -1))).toEqual([0, 1, 2, 3, 4, 5]);
    // Small envelopes alone share one message, as packSmallEnvelopes makes it.
    const small = [dataEnvelope(0, 0), dataEnvelope(1, 1), [packHeader(['e', 'completed'])]];
    expect(zmqMessages(small)).toEqual([packSmallEnvelopes(small)]);
  });

  it('leave a lone envelope as it is, and a large one uncopied between two batches', () => {
    const lone = dataEnvelope({ index: 1 }, 1);
    expect(zmqMessages([lone])).toEqual([lone]);
    expect(packSmallEnvelopes([lone])).toEqual(lone);
    const big = dataEnvelope(new Uint8Array(BATCHABLE_ENVELOPE_BYTES + 1).fill(9), 2);
    const messages = zmqMessages([dataEnvelope(0, 0), dataEnvelope(1, 1), big, dataEnvelope(3, 3), dataEnvelope(4, 4)]);
    // batch (2 frames), the big envelope's own frames, batch (2 frames)
    expect(messages.map((message) => message.length)).toEqual([2, big.length, 2]);
    expect(messages[1]?.every((frame, index) => frame === big[index])).toBe(true);
    const received = messages.flatMap((message) => receive(message));
    expect(received.map((envelope) => (envelope.kind === 'data' ? envelope.seq : -1))).toEqual([0, 1, 2, 3, 4]);
    const bigValue = received[2]?.kind === 'data' ? received[2].value : undefined;
    expect(bigValue).toEqual(new Uint8Array(BATCHABLE_ENVELOPE_BYTES + 1).fill(9));
  });

  it('give every value its own memory, not a view of the shared payload', () => {
    const received = receive(packSmallEnvelopes([dataEnvelope(new Uint8Array([1, 2, 3]), 0), dataEnvelope(new Uint8Array([4, 5]), 1)]));
    const first = received[0]?.kind === 'data' ? (received[0].value as Uint8Array) : undefined;
    expect(first?.buffer.byteLength).toBe(3);
  });

  it('are refused with a coded WireError when malformed', () => {
    const [header, payload] = packBatch([dataEnvelope(1, 1), dataEnvelope(2, 2)]);
    // no payload frame
    expectWireError(() => parseEnvelope([header], 0));
    // lengths that overrun, fall short of, or do not describe the payload
    expectWireError(() => parseEnvelope([packHeader(['b', [payload.length + 1]]), payload], 0));
    expectWireError(() => parseEnvelope([packHeader(['b', [1]]), payload], 0));
    expectWireError(() => parseEnvelope([packHeader(['b', [-1, payload.length + 1]]), payload], 0));
    expectWireError(() => parseEnvelope([packHeader(['b', [1.5]]), payload], 0));
    expectWireError(() => parseEnvelope([packHeader(['b', []]), Buffer.alloc(0)], 0));
    expectWireError(() => parseEnvelope([packHeader(['b', 'lengths']), payload], 0));
    expectWireError(() => parseEnvelope([packHeader(['b', [payload.length], 'extra']), payload], 0));
    expectWireError(() => unpackBatch(new Array(70_000).fill(0), Buffer.alloc(0)));
    // a batch inside a batch
    const inner = packBatch([dataEnvelope(1, 1), dataEnvelope(2, 2)]);
    expectWireError(() => receive(packBatch([inner])));
    // well-framed, but an envelope inside is garbage
    expectWireError(() => receive(packBatch([[Buffer.from([0xc1])], dataEnvelope(2, 2)])));
  });

  it('fuzz: any batch of valid envelopes round-trips; any mutation of its payload parses or throws a WireError', () => {
    const value = fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 32 }), fc.string());
    fc.assert(
      fc.property(fc.array(value, { minLength: 2, maxLength: 8 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (values, at, bits) => {
        const frames = packSmallEnvelopes(values.map((item, seq) => dataEnvelope(item, seq)));
        expect(receive(frames).map((envelope) => (envelope.kind === 'data' ? envelope.seq : -1))).toEqual(values.map((_, seq) => seq));
        const payload = Buffer.from(frames[1] as Buffer);
        const index = at % payload.length;
        payload[index] = (payload[index] as number) ^ bits;
        try {
          receive([frames[0] as Buffer, payload]);
        } catch (error) {
          expect(error).toBeInstanceOf(WireError);
        }
      }),
    );
  });
});
