import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AllocationError,
  deserializeError,
  FlowValidationError,
  isVfError,
  type SerializedError,
  serializeError,
  TaskFailedError,
  VfError,
} from './errors.js';

/** Serialises, sends through JSON text (as between processes), and rebuilds. */
function roundTrip(error: unknown): Error {
  const wire = JSON.parse(JSON.stringify(serializeError(error))) as SerializedError;
  return deserializeError(wire);
}

describe('VfError family', () => {
  it('every vf error is an Error, a VfError and recognised by isVfError', () => {
    for (const error of [
      new VfError('X', 'x'),
      new FlowValidationError('CYCLE', 'c'),
      new AllocationError('NO_GPU', 'g'),
      new TaskFailedError('node', 0, new Error('boom')),
    ]) {
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(VfError);
      expect(isVfError(error)).toBe(true);
    }
  });

  it('isVfError is false for plain errors and non-errors', () => {
    expect(isVfError(new Error('plain'))).toBe(false);
    expect(isVfError(Object.assign(new Error('coded'), { code: 'CYCLE' }))).toBe(false);
    expect(isVfError(null)).toBe(false);
    expect(isVfError('CYCLE')).toBe(false);
    expect(isVfError({ code: 'CYCLE', name: 'FlowValidationError' })).toBe(false);
  });

  it('TaskFailedError names the node, the task and the cause in its message', () => {
    const error = new TaskFailedError('decoder', 2, new Error('bad frame'));
    expect(error.code).toBe('TASK_FAILED');
    expect(error.message).toContain('"decoder"');
    expect(error.message).toContain('2');
    expect(error.message).toContain('bad frame');
    expect(error.details).toEqual({ nodeName: 'decoder', taskIndex: 2 });
    expect(new TaskFailedError('n', 0, 'a string').message).toContain('a string');
  });

  it('JSON.stringify of a vf error keeps name, message, code, details and cause', () => {
    const error = new FlowValidationError('DUPLICATE_NAME', 'two nodes are named "x"', {
      details: { name: 'x' },
      cause: new Error('inner'),
    });
    const json = JSON.parse(JSON.stringify(error)) as SerializedError;
    expect(json.code).toBe('DUPLICATE_NAME');
    expect(json.name).toBe('FlowValidationError');
    expect(json.message).toBe('two nodes are named "x"');
    expect(json.details).toEqual({ name: 'x' });
    expect(json.cause?.message).toBe('inner');
    expect(JSON.stringify({ error })).toContain('"code":"DUPLICATE_NAME"');
  });
});

describe('serializeError / deserializeError', () => {
  it('round-trips a TaskFailedError with node name, task index and the cause with its stack', () => {
    const cause = new Error('exploded on item 25');
    const original = new TaskFailedError('exploder', 3, cause);
    const rebuilt = roundTrip(original);

    expect(rebuilt).toBeInstanceOf(TaskFailedError);
    expect(isVfError(rebuilt)).toBe(true);
    const failed = rebuilt as TaskFailedError;
    expect(failed.nodeName).toBe('exploder');
    expect(failed.taskIndex).toBe(3);
    expect(failed.code).toBe('TASK_FAILED');
    expect(failed.message).toBe(original.message);
    expect(failed.stack).toBe(original.stack);
    expect(failed.cause).toBeInstanceOf(Error);
    expect((failed.cause as Error).message).toBe('exploded on item 25');
    expect((failed.cause as Error).stack).toBe(cause.stack);
    expect((failed.cause as Error).stack).toContain('errors.test.ts');
  });

  it('round-trips a FlowValidationError with its code and details', () => {
    const original = new FlowValidationError('CYCLE', 'the graph has a cycle through "a", "b"', { details: { nodes: ['a', 'b'] } });
    const rebuilt = roundTrip(original);
    expect(rebuilt).toBeInstanceOf(FlowValidationError);
    expect(isVfError(rebuilt)).toBe(true);
    expect((rebuilt as FlowValidationError).code).toBe('CYCLE');
    expect((rebuilt as FlowValidationError).details).toEqual({ nodes: ['a', 'b'] });
    expect(rebuilt.message).toBe(original.message);
  });

  it('round-trips an AllocationError and a bare VfError', () => {
    const allocation = roundTrip(new AllocationError('NO_GPU', 'no GPU left'));
    expect(allocation).toBeInstanceOf(AllocationError);
    expect((allocation as AllocationError).code).toBe('NO_GPU');
    const base = roundTrip(new VfError('ABORTED', 'stopped'));
    expect(base).toBeInstanceOf(VfError);
    expect((base as VfError).code).toBe('ABORTED');
  });

  it('round-trips a plain Error with a code property, keeping name, code and stack', () => {
    const original = Object.assign(new TypeError("ENOENT: no such file, open 'x'"), { code: 'ENOENT' });
    const rebuilt = roundTrip(original);
    expect(isVfError(rebuilt)).toBe(false);
    expect(rebuilt.name).toBe('TypeError');
    expect(rebuilt.message).toBe(original.message);
    expect((rebuilt as Error & { code?: string }).code).toBe('ENOENT');
    expect(rebuilt.stack).toBe(original.stack);
  });

  it("round-trips a Node system error's own fields (errno, syscall, path) and a user's own field", () => {
    let original: Error | undefined;
    try {
      readFileSync('/nonexistent-vf-errors-test/file');
    } catch (error) {
      original = Object.assign(error as Error, { attempt: 3, context: { file: 'file', tries: [1, 2] } });
    }
    const serialized = serializeError(original);
    expect(serialized.details).toEqual({
      errno: -2,
      syscall: 'open',
      path: '/nonexistent-vf-errors-test/file',
      attempt: 3,
      context: { file: 'file', tries: [1, 2] },
    });
    const rebuilt = roundTrip(original) as Error & Record<string, unknown>;
    expect([rebuilt.code, rebuilt.errno, rebuilt.syscall, rebuilt.path, rebuilt.attempt]).toEqual([
      'ENOENT',
      -2,
      'open',
      '/nonexistent-vf-errors-test/file',
      3,
    ]);
    expect(Object.keys(rebuilt)).toEqual(expect.arrayContaining(['errno', 'syscall', 'path', 'attempt', 'context']));
    expect(serializeError(rebuilt)).toEqual(serialized);
  });

  it("carries an own field of a plain error within bounds: binary data, cycles and long values as text, a throwing getter, a peer's __proto__ as a plain field", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const error = Object.assign(new Error('odd'), {
      frame: Buffer.alloc(1 << 20),
      cyclic,
      long: 'x'.repeat(10_000),
      big: 5n,
      nothing: undefined,
      bigObject: { list: Array.from({ length: 2000 }, (_, index) => index) },
    });
    Object.defineProperty(error, 'trap', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    const details = serializeError(error).details as Record<string, unknown>;
    expect(details.frame).toBe('an object');
    expect(details.cyclic).toBe('an object');
    expect(details.bigObject).toBe('an object');
    expect(details.big).toBe('5n');
    expect((details.long as string).length).toBe(4096);
    expect(details.trap).toBe('a field that could not be read');
    expect('nothing' in details).toBe(false);
    expect(() => JSON.stringify(details)).not.toThrow();
    const lying = deserializeError(
      JSON.parse('{"name":"Error","message":"m","details":{"__proto__":{"polluted":true},"message":"not this"}}'),
    );
    expect(Object.getPrototypeOf(lying)).toBe(Error.prototype);
    expect((lying as Error & { polluted?: unknown }).polluted).toBeUndefined();
    expect(lying.message).toBe('m');
  });

  it('serialises a non-string code of a plain error as no code', () => {
    const serialized = serializeError(Object.assign(new Error('errno'), { code: 42 }));
    expect(serialized.code).toBeUndefined();
  });

  it("keeps name, message, code and stack of an error that is not an Error instance (a native addon's, such as ZeroMQ's)", () => {
    const addonError = { name: 'Error', message: 'No such device', code: 'ENODEV', stack: 'Error: No such device\n    at bind' };
    expect(serializeError(addonError)).toEqual({ name: 'Error', message: 'No such device', code: 'ENODEV', stack: addonError.stack });
    // A plain object without a stack is a thrown value, described as before.
    expect(serializeError({ name: 'Error', message: 'x' })).toEqual({ name: 'NonError', message: '{"name":"Error","message":"x"}' });
  });

  it('takes a message, name or stack that is not a string as text, and details JSON cannot carry as text', () => {
    const numeric = Object.assign(new Error('x'), { message: 42 });
    expect(serializeError(numeric).message).toBe('42');
    const details: Record<string, unknown> = { big: 10n ** 20n, ok: [1, 'two'] };
    details.self = details;
    const serialized = serializeError(new VfError('EXPLODED', 'boom', { details }));
    expect(serialized.details).toEqual({ big: '100000000000000000000n', ok: [1, 'two'], self: 'an object' });
    expect(() => JSON.stringify(serialized)).not.toThrow();
  });

  it('round-trips a thrown string', () => {
    const serialized = serializeError('just a string');
    expect(serialized).toEqual({ name: 'NonError', message: 'just a string' });
    const rebuilt = roundTrip('just a string');
    expect(rebuilt).toBeInstanceOf(Error);
    expect(rebuilt.message).toBe('just a string');
    expect(rebuilt.name).toBe('NonError');
  });

  it('describes thrown non-errors: objects as JSON, and values JSON cannot hold', () => {
    expect(serializeError({ reason: 'nope' }).message).toBe('{"reason":"nope"}');
    expect(serializeError(undefined).message).toBe('undefined');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(serializeError(circular).message).toBe('[object Object]');
  });

  it('keeps a chain of causes, including a non-Error cause', () => {
    const original = new Error('outer', { cause: new Error('middle', { cause: 'root' }) });
    const rebuilt = roundTrip(original);
    const middle = rebuilt.cause as Error;
    expect(middle.message).toBe('middle');
    expect((middle.cause as Error).message).toBe('root');
  });

  it('stops serialising an endless cause chain', () => {
    const error = new Error('loop');
    (error as { cause?: unknown }).cause = error;
    const serialized = serializeError(error);
    let depth = 0;
    for (let at: SerializedError | undefined = serialized; at !== undefined; at = at.cause) depth += 1;
    expect(depth).toBeGreaterThan(1);
    expect(depth).toBeLessThanOrEqual(10);
    expect(() => JSON.stringify(serialized)).not.toThrow();
  });
});
