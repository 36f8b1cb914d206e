import { describe, expect, it } from 'vitest';
import { FlowValidationError } from '../errors.js';
import { ConsumerNode } from './consumerNode.js';
import { backoffDelay, MAX_BACKOFF_MS, resolveOnError } from './errorPolicy.js';
import { ProcessorNode, type ProcessorOptions } from './processorNode.js';
import { ProducerNode } from './producerNode.js';

class Identity extends ProcessorNode<[number], number> {
  constructor(options: ProcessorOptions = {}) {
    super(options);
  }
  process(value: number): number {
    return value;
  }
}

class Sink extends ConsumerNode<[number]> {
  consume(): void {}
}

class Numbers extends ProducerNode<number> {
  *produce() {
    yield 1;
  }
}

/** The error `make` throws, expected to be INVALID_OPTION naming `option`. */
function invalidOption(make: () => unknown, option: string): FlowValidationError {
  let caught: unknown;
  try {
    make();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FlowValidationError);
  expect((caught as FlowValidationError).code).toBe('INVALID_OPTION');
  expect((caught as FlowValidationError).details).toMatchObject({ option });
  return caught as FlowValidationError;
}

describe('onError option', () => {
  it("defaults to 'fail'; 'skip' drops without retries; the object form fills its defaults", () => {
    expect(new Identity().errorPolicy).toEqual({ mode: 'fail', retries: 0, backoffMs: 0 });
    expect(new Identity({ onError: 'skip' }).errorPolicy).toEqual({ mode: 'drop', retries: 0, backoffMs: 0 });
    expect(new Identity({ onError: { retries: 2 } }).errorPolicy).toEqual({ mode: 'drop', retries: 2, backoffMs: 100 });
    expect(new Identity({ onError: { deadLetter: '/tmp/dead' } }).errorPolicy.deadLetterDir).toBe('/tmp/dead');
    expect(new Identity({ onError: { deadLetter: { dir: '/tmp/dl' } } }).errorPolicy.deadLetterDir).toBe('/tmp/dl');
    expect(new Sink({ onError: { retries: 1, backoffMs: 0 } }).errorPolicy).toEqual({ mode: 'drop', retries: 1, backoffMs: 0 });
  });

  it.each([
    [{ onError: 'retry' }, 'onError'],
    [{ onError: 3 }, 'onError'],
    [{ onError: { retries: -1 } }, 'onError.retries'],
    [{ onError: { retries: 1.5 } }, 'onError.retries'],
    [{ onError: { retries: 1000 } }, 'onError.retries'],
    [{ onError: { backoffMs: -5 } }, 'onError.backoffMs'],
    [{ onError: { backoffMs: Number.NaN } }, 'onError.backoffMs'],
    [{ onError: { deadLetter: '' } }, 'onError.deadLetter'],
    [{ onError: { deadLetter: { path: '/tmp' } } }, 'onError.deadLetter'],
    [{ onError: { retry: 2 } }, 'onError.retry'],
  ])('refuses %j with INVALID_OPTION naming the node and the field', (options, option) => {
    const error = invalidOption(() => new Identity({ name: 'decoder', ...(options as ProcessorOptions) }), option);
    expect(error.message).toContain('processor "decoder"');
    expect(error.message).toContain(option);
  });

  it('names the consumer too', () => {
    const error = invalidOption(() => new Sink({ name: 'writer', onError: { retries: 'two' } as never }), 'onError.retries');
    expect(error.message).toMatch(/^consumer "writer": onError\.retries must be an integer from 0 to 100, got "two"$/);
  });

  it("refuses onError other than 'fail' on a producer, saying why", () => {
    const error = invalidOption(() => new Numbers({ name: 'camera', onError: 'skip' } as never), 'onError');
    expect(error.message).toContain('producer "camera"');
    expect(error.message).toContain('cannot be resumed or retried');
    expect(() => new Numbers({ onError: 'fail' } as never)).not.toThrow();
  });

  it('backs off exponentially, each wait capped', () => {
    const policy = resolveOnError({ retries: 30, backoffMs: 100 }, 'processor "p"');
    expect([1, 2, 3, 4].map((retry) => backoffDelay(policy, retry))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(policy, 30)).toBe(MAX_BACKOFF_MS);
  });
});
