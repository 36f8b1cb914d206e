import { describe, expect, it } from 'vitest';
import { OneTaskProcessorNode } from '../nodes/processorNode.js';
import {
  type AggregatorNode,
  CountAggregator,
  MaxAggregator,
  MinAggregator,
  MultiplicationAggregator,
  SumAggregator,
} from './aggregators.js';

/** Feeds `values` to a freshly opened aggregator and returns every emitted running value. */
function run(aggregator: AggregatorNode, values: readonly number[]): number[] {
  aggregator.open();
  return values.map((value) => aggregator.process(value));
}

describe('aggregators', () => {
  it.each([
    ['SumAggregator', () => new SumAggregator(), [3, -1, 4, 10], [3, 2, 6, 16]],
    ['CountAggregator', () => new CountAggregator(), [7, 7, -3, 0], [1, 2, 3, 4]],
    ['MaxAggregator', () => new MaxAggregator(), [-5, -7, 2, 1, 9], [-5, -5, 2, 2, 9]],
    ['MinAggregator', () => new MinAggregator(), [5, 7, 2, 3, -1], [5, 5, 2, 2, -1]],
    ['MultiplicationAggregator', () => new MultiplicationAggregator(), [2, 3, 4, 0.5], [2, 6, 24, 12]],
  ] as const)('%s emits the running value', (_name, create, values, expected) => {
    expect(run(create(), values)).toEqual(expected);
  });

  it('starts from the first value, not from 0 (max of negatives, product)', () => {
    expect(run(new MaxAggregator(), [-3])).toEqual([-3]);
    expect(run(new MinAggregator(), [3])).toEqual([3]);
    expect(run(new MultiplicationAggregator(), [5])).toEqual([5]);
  });

  it('open() resets the state for a new run', () => {
    const sum = new SumAggregator();
    expect(run(sum, [1, 2, 3])).toEqual([1, 3, 6]);
    expect(run(sum, [10])).toEqual([10]);
  });

  it('the sum of 0..40 ends at 820', () => {
    expect(
      run(
        new SumAggregator(),
        Array.from({ length: 41 }, (_, index) => index),
      ).at(-1),
    ).toBe(820);
  });

  it('aggregators are one-task processors', () => {
    const sum = new SumAggregator({ name: 'sum' });
    expect(sum).toBeInstanceOf(OneTaskProcessorNode);
    expect(sum.nbTasks).toBe(1);
    expect(sum.kind).toBe('processor');
  });
});
