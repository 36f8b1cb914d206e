import { describe, expect, it } from 'vitest';
import { FlowValidationError } from '../errors.js';
import { Flow } from '../flow/flow.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { IntProducer } from './intProducer.js';

const ctx = { signal: new AbortController().signal, taskIndex: 0 };

class Collect extends ConsumerNode<[number]> {
  readonly items: number[] = [];

  consume(value: number) {
    this.items.push(value);
  }
}

describe('IntProducer', () => {
  it('emits start..end with end inclusive', () => {
    expect([...new IntProducer(0, 3).produce(ctx)]).toEqual([0, 1, 2, 3]);
    expect([...new IntProducer(-2, 1).produce(ctx)]).toEqual([-2, -1, 0, 1]);
    expect([...new IntProducer(5, 5).produce(ctx)]).toEqual([5]);
    expect([...new IntProducer(3, 2).produce(ctx)]).toEqual([]);
  });

  it('is endless without an end', () => {
    const producer = new IntProducer(7);
    expect(producer.end).toBe(Number.POSITIVE_INFINITY);
    const iterator = producer.produce(ctx)[Symbol.iterator]();
    const first = Array.from({ length: 1000 }, () => iterator.next().value);
    expect(first[0]).toBe(7);
    expect(first[999]).toBe(1006);
    expect(iterator.next().done).toBe(false);
  });

  it('each produce() call starts over', () => {
    const producer = new IntProducer(1, 2);
    expect([...producer.produce(ctx)]).toEqual([1, 2]);
    expect([...producer.produce(ctx)]).toEqual([1, 2]);
  });

  it.each([
    [1.5, 3],
    [0, 2.5],
    [Number.NaN, 3],
    [0, Number.NaN],
    [Number.NEGATIVE_INFINITY, 3],
  ])('rejects start %s / end %s with INVALID_OPTION', (start, end) => {
    expect(() => new IntProducer(start, end)).toThrow(FlowValidationError);
  });

  it('delivers 0..end inclusive through a flow', async () => {
    const numbers = new IntProducer(0, 40);
    const sink = new Collect().from(numbers);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine({ queueSize: 2 }));
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(sink.items).toEqual(Array.from({ length: 41 }, (_, index) => index));
    expect(report.nodes[0]?.emitted).toBe(41);
  });
});
