import { describe, expect, it } from 'vitest';
import { helloPid, parseTaskMessage } from './controlProtocol.js';

describe('the stats control message', () => {
  const stats = {
    received: 3,
    emitted: 3,
    dropped: 1,
    drops: [{ from: 'a', to: 'b', count: 1 }],
    processed: 3,
    proctimeTotalMs: 4.5,
    activeMs: 250,
  };

  it('is accepted from a task with its counters', () => {
    expect(parseTaskMessage({ v: 1, type: 'stats', stats })).toEqual({ v: 1, type: 'stats', stats });
  });

  it('carries the detail of what the task runs on (e.g. its TensorFlow.js backend), short', () => {
    const withDetail = { ...stats, deviceDetail: 'wasm' };
    expect(parseTaskMessage({ v: 1, type: 'stats', stats: withDetail })).toEqual({ v: 1, type: 'stats', stats: withDetail });
    expect(() => parseTaskMessage({ v: 1, type: 'stats', stats: { ...stats, deviceDetail: 'x'.repeat(65) } })).toThrow(
      /invalid control message/,
    );
  });

  it('is refused when its counters are missing or malformed', () => {
    expect(() => parseTaskMessage({ v: 1, type: 'stats' })).toThrow(/invalid control message from task/);
    expect(() => parseTaskMessage({ v: 1, type: 'stats', stats: { ...stats, processed: 'three' } })).toThrow(/invalid control message/);
  });
});

describe('the hello control message', () => {
  it('carries the task pid, read by launchers before the host checks the message', () => {
    expect(parseTaskMessage({ v: 1, type: 'hello', pid: 4242 })).toEqual({ v: 1, type: 'hello', pid: 4242 });
    expect(helloPid({ v: 1, type: 'hello', pid: 4242 })).toBe(4242);
  });

  it('yields no pid from any other message, or a malformed one', () => {
    expect(helloPid({ v: 1, type: 'ready', pid: 4242 })).toBeUndefined();
    expect(helloPid({ v: 2, type: 'hello', pid: 4242 })).toBeUndefined();
    expect(helloPid({ v: 1, type: 'hello', pid: -1 })).toBeUndefined();
    expect(helloPid({ v: 1, type: 'hello', pid: '4242' })).toBeUndefined();
    expect(helloPid('not json')).toBeUndefined();
    expect(helloPid(null)).toBeUndefined();
  });
});
