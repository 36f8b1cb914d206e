import { describe, expect, it } from 'vitest';
import { parseTaskMessage } from './controlProtocol.js';

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

  it('is refused when its counters are missing or malformed', () => {
    expect(() => parseTaskMessage({ v: 1, type: 'stats' })).toThrow(/invalid control message from task/);
    expect(() => parseTaskMessage({ v: 1, type: 'stats', stats: { ...stats, processed: 'three' } })).toThrow(/invalid control message/);
  });
});
