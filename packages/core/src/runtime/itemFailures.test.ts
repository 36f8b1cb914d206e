import { describe, expect, it } from 'vitest';
import type { InputSet, MessageMetadata } from '../contracts/messenger.js';
import { ItemFailures } from './itemFailures.js';
import { SkippedItem } from './skippedItem.js';

type DataInput = Extract<InputSet, { kind: 'data' }>;

function meta(node: string): MessageMetadata {
  return { seq: 3, ticket: 3, node, taskIndex: 0, proctimeMs: 0, actualProctimeMs: 0, createdAt: 0 };
}

function input(values: unknown[], nodes: string[]): DataInput {
  return { kind: 'data', seq: 3, ticket: 3, values, metas: nodes.map(meta) };
}

function failures(): ItemFailures {
  return new ItemFailures('join', 0, { mode: 'drop', retries: 0, backoffMs: 0 }, new AbortController().signal, false);
}

describe('ItemFailures.markerIn', () => {
  it('counts an item given up upstream as absent on its edge, and the other parents’ outputs of that origin as discarded', () => {
    const counts = failures();
    const given = new SkippedItem('a', true);
    expect(counts.markerIn(input([given, 'b3'], ['a', 'b']))).toBe(given);
    expect(counts.edgeFailures()).toEqual([{ from: 'a', to: 'join', failed: 1, deadLettered: 1 }]);
    expect(counts.discarded()).toEqual([{ from: 'b', to: 'join', count: 1 }]);
    expect(counts.markerIn(input(['a3', 'b3'], ['a', 'b']))).toBeUndefined();
  });

  it('passes on the marker of a group a time join dropped, counting nothing as failed', () => {
    const counts = failures();
    const dropped = new SkippedItem('t', false, true);
    expect(counts.markerIn(input([dropped, dropped], ['a', 'b']))).toBe(dropped);
    expect(counts.edgeFailures()).toEqual([]);
    expect(counts.discarded()).toEqual([]);
  });

  it('passes on the failure when a set holds both a dropped group’s marker and an item given up', () => {
    const counts = failures();
    const given = new SkippedItem('b', false);
    expect(counts.markerIn(input([new SkippedItem('t', false, true), given], ['t', 'b']))).toBe(given);
    expect(counts.edgeFailures()).toEqual([{ from: 'b', to: 'join', failed: 1, deadLettered: 0 }]);
  });
});
