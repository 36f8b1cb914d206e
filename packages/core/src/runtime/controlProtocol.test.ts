import { describe, expect, it } from 'vitest';
import { isVfError } from '../errors.js';
import { type HostMessage, helloPid, parseHostMessage, parseTaskMessage } from './controlProtocol.js';

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
    expect(parseTaskMessage({ v: 6, type: 'stats', stats })).toEqual({ v: 6, type: 'stats', stats });
  });

  it('carries the detail of what the task runs on (e.g. its TensorFlow.js backend), short', () => {
    const withDetail = { ...stats, deviceDetail: 'wasm' };
    expect(parseTaskMessage({ v: 6, type: 'stats', stats: withDetail })).toEqual({ v: 6, type: 'stats', stats: withDetail });
    expect(() => parseTaskMessage({ v: 6, type: 'stats', stats: { ...stats, deviceDetail: 'x'.repeat(65) } })).toThrow(
      /invalid control message/,
    );
  });

  it("may say what the task waits on, for the host's deadlock watch; a malformed wait is refused", () => {
    const queues = { on: 'room', child: 'join', moved: 12 };
    expect(parseTaskMessage({ v: 6, type: 'stats', stats, queues })).toEqual({ v: 6, type: 'stats', stats, queues });
    expect(parseTaskMessage({ v: 6, type: 'queues', queues: { moved: 0 } })).toEqual({ v: 6, type: 'queues', queues: { moved: 0 } });
    expect(() => parseTaskMessage({ v: 6, type: 'queues', queues: { on: 'sleep', moved: 1 } })).toThrow(
      /queues\.on must be 'room' or 'input' or 'end'/,
    );
    expect(() => parseTaskMessage({ v: 6, type: 'stats', stats, queues: { on: 'input', moved: -1 } })).toThrow(/queues\.moved/);
    const rooms = { toChildren: [[3, 0]], fromParents: [[0, 16]] };
    expect(parseTaskMessage({ v: 6, type: 'queues', queues: { on: 'room', child: 'join', moved: 1, rooms } })).toEqual({
      v: 6,
      type: 'queues',
      queues: { on: 'room', child: 'join', moved: 1, rooms },
    });
    expect(() => parseTaskMessage({ v: 6, type: 'queues', queues: { moved: 1, rooms: { toChildren: [[3]], fromParents: [] } } })).toThrow(
      /queues\.rooms\.toChildren\[0\] must be a \[task id, room\] pair/,
    );
  });

  it('is refused when its counters are missing or malformed', () => {
    expect(() => parseTaskMessage({ v: 6, type: 'stats' })).toThrow(/invalid control message from task/);
    expect(() => parseTaskMessage({ v: 6, type: 'stats', stats: { ...stats, processed: 'three' } })).toThrow(/invalid control message/);
  });
});

describe('the hello control message', () => {
  it('carries the task pid, read by launchers before the host checks the message', () => {
    expect(parseTaskMessage({ v: 6, type: 'hello', pid: 4242 })).toEqual({ v: 6, type: 'hello', pid: 4242 });
    expect(helloPid({ v: 6, type: 'hello', pid: 4242 })).toBe(4242);
  });

  it("from a task of a vf of another protocol version: refused, naming both versions (before: version 1 passed, then its data failed as 'unknown envelope kind')", () => {
    const error = thrown(() => parseTaskMessage({ v: 1, type: 'hello', pid: 4242 }));
    expect(error).toMatchObject({ code: 'INVALID_CONTROL_MESSAGE' });
    expect((error as Error).message).toBe(
      'control message from task has protocol version 1, expected 6: the host and the task run different versions of vf',
    );
  });

  it('yields no pid from any other message, or a malformed one', () => {
    expect(helloPid({ v: 6, type: 'ready', pid: 4242 })).toBeUndefined();
    expect(helloPid({ v: 1, type: 'hello', pid: 4242 })).toBeUndefined();
    expect(helloPid({ v: 6, type: 'hello', pid: -1 })).toBeUndefined();
    expect(helloPid({ v: 6, type: 'hello', pid: '4242' })).toBeUndefined();
    expect(helloPid('not json')).toBeUndefined();
    expect(helloPid(null)).toBeUndefined();
  });
});

/** The error `action` throws; fails the test if it throws none. */
function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return expect.fail('expected a throw');
}

describe('the messages a task receives (checked without zod)', () => {
  const spec = { id: 1, nodeIndex: 1, nodeName: 'relay', taskIndex: 0, nbTasks: 1, device: 'cpu', env: { A: '1' } };
  const node = (index: number, extra: object = {}) => ({
    index,
    name: `n${index}`,
    kind: index === 0 ? 'producer' : 'processor',
    parents: index === 0 ? [] : [index - 1],
    children: [],
    nbTasks: 1,
    deviceType: 'cpu',
    requiresGpu: false,
    ...extra,
  });
  const init = {
    task: spec,
    nodes: [node(0), node(1, { fps: 25, wantsMetadata: true, join: { mode: 'time', toleranceMs: 5, timeoutMs: 100, collect: 'all' } })],
    tasks: [spec],
    source: { moduleUrl: 'file:///flow.ts', params: { anything: [1, 'two'] } },
    transport: {
      kind: 'ipc',
      endpoints: ['ipc:///tmp/vf-x/t0'],
      curve: { publicKey: 'a'.repeat(40), secretKey: 'B'.repeat(40) },
      runSecret: 'f'.repeat(64),
    },
    queueSize: 8,
    restartOnFailure: false,
    sharedMemory: { directory: '/dev/shm/vf-x' },
    messenger: { moduleUrl: 'file:///messenger.ts', exportName: 'BatchQueueMessenger' },
    heartbeatMs: 2000,
  };

  it('accepts every well-formed message, unchanged', () => {
    const messages: HostMessage[] = [
      { v: 6, type: 'init', init } as HostMessage,
      { v: 6, type: 'start' },
      { v: 6, type: 'endpoints', endpoints: ['tcp://10.0.0.1:4000'] },
      { v: 6, type: 'stop' },
      { v: 6, type: 'abort', reason: 'the flow failed' },
      { v: 6, type: 'peerDone', taskId: 2 },
      { v: 6, type: 'peerLost', taskId: 0 },
    ];
    for (const message of messages) expect(parseHostMessage(structuredClone(message))).toEqual(message);
  });

  it.each([
    ['an unknown type', { v: 6, type: 'reboot' }, /type must be one of init, start/],
    ['another protocol version', { v: 1, type: 'start' }, /protocol version 1, expected 6/],
    ['no object at all', 'start', /protocol version undefined/],
    // A map whose toString is no function: String() would throw a TypeError instead of the coded error.
    ['a version that is a map with a toString key', { v: { toString: 0 }, type: 'start' }, /protocol version an object, expected 6/],
    ['a task id that is not an integer', { v: 6, type: 'peerDone', taskId: 1.5 }, /taskId must be an integer from 0, got 1.5/],
    ['an endpoint that is not a string', { v: 6, type: 'endpoints', endpoints: ['ipc://a', 7] }, /endpoints\[1\] must be a string, got 7/],
    ['init without its task', { v: 6, type: 'init', init: { ...init, task: undefined } }, /init\.task must be an object, got nothing/],
    [
      'init with a malformed device',
      { v: 6, type: 'init', init: { ...init, tasks: [{ ...spec, device: 'tpu:0' }] } },
      /init\.tasks\[0\]\.device must be 'cpu' or 'gpu:<n>', got "tpu:0"/,
    ],
    [
      'init with a short run secret',
      { v: 6, type: 'init', init: { ...init, transport: { ...init.transport, runSecret: 'abc' } } },
      /init\.transport\.runSecret must be 64 hex digits/,
    ],
    [
      'init with a join of another mode',
      {
        v: 6,
        type: 'init',
        init: { ...init, nodes: [node(0), node(1, { join: { mode: 'origin', toleranceMs: 1, timeoutMs: 1, collect: 'first' } })] },
      },
      /init\.nodes\[1\]\.join\.mode must be 'time', got "origin"/,
    ],
    [
      'init with an environment value that is not a string',
      { v: 6, type: 'init', init: { ...init, task: { ...spec, env: { A: 1 } } } },
      /init\.task\.env\.A must be a string, got 1/,
    ],
  ])('refuses %s with a coded error naming the field', (_, message, text) => {
    const error = thrown(() => parseHostMessage(message));
    expect(isVfError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'INVALID_CONTROL_MESSAGE' });
    expect((error as Error).message).toMatch(text);
  });

  it('refuses a malformed message from a task with the same code', () => {
    expect(thrown(() => parseTaskMessage({ v: 6, type: 'ready' }))).toMatchObject({ code: 'INVALID_CONTROL_MESSAGE' });
  });

  const stats = { received: 1, emitted: 1, dropped: 0, drops: [], processed: 1, proctimeTotalMs: 2, activeMs: 3 };
  const outcome = { taskId: 2, nodeName: 'sink', taskIndex: 0, device: 'cpu', status: 'completed', stats };
  const error = { name: 'Error', message: 'outer', cause: { name: 'TypeError', message: 'inner', details: { item: 7 } } };

  it('takes every kind of task message, checked by hand (no zod in the host)', () => {
    for (const message of [
      { v: 6, type: 'bound' },
      { v: 6, type: 'bound', endpoint: 'tcp://10.0.0.2:4000' },
      { v: 6, type: 'started' },
      { v: 6, type: 'heartbeat', stalledMs: 0, inNode: true },
      { v: 6, type: 'error', error },
      { v: 6, type: 'warning', warning: { name: 'DeprecationWarning', message: 'old', code: 'DEP0001' } },
      { v: 6, type: 'done', outcome: { ...outcome, device: 'gpu:1', status: 'failed', error } },
    ]) {
      expect(parseTaskMessage(message)).toEqual(message);
    }
  });

  it.each([
    ['an unknown type', { v: 6, type: 'bye' }, /type must be one of hello, bound/],
    ['a hello without a positive pid', { v: 6, type: 'hello', pid: 0 }, /pid must be an integer from 1, got 0/],
    [
      'an endless stall',
      { v: 6, type: 'heartbeat', stalledMs: Number.POSITIVE_INFINITY, inNode: false },
      /stalledMs must be a number from 0/,
    ],
    [
      'a count that is no number',
      { v: 6, type: 'stats', stats: { ...stats, emitted: 'many' } },
      /stats\.emitted must be a number, got "many"/,
    ],
    [
      'a drop with no source',
      { v: 6, type: 'stats', stats: { ...stats, drops: [{ to: 'b', count: 1 }] } },
      /stats\.drops\[0\]\.from must be a string/,
    ],
    [
      'an error whose cause has no message',
      { v: 6, type: 'error', error: { ...error, cause: { name: 'TypeError' } } },
      /error\.cause\.message must be a string, got nothing/,
    ],
    [
      'an outcome of another status',
      { v: 6, type: 'done', outcome: { ...outcome, status: 'won' } },
      /outcome\.status must be 'completed' or/,
    ],
    [
      'an outcome on a device that is none',
      { v: 6, type: 'done', outcome: { ...outcome, device: 'tpu' } },
      /outcome\.device must be 'cpu' or 'gpu:<n>'/,
    ],
  ])('refuses from a task %s, naming the field', (_, message, text) => {
    const refusal = thrown(() => parseTaskMessage(message));
    expect(refusal).toMatchObject({ code: 'INVALID_CONTROL_MESSAGE', details: { from: 'task' } });
    expect((refusal as Error).message).toMatch(text);
  });
});
