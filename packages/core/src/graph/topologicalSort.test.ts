import { describe, expect, it } from 'vitest';
import { ConsumerNode } from '../nodes/consumerNode.js';
import type { Node } from '../nodes/node.js';
import { ProcessorNode } from '../nodes/processorNode.js';
import { ProducerNode } from '../nodes/producerNode.js';
import { topologicalSort } from './topologicalSort.js';

class Source extends ProducerNode<number> {
  *produce() {
    yield 0;
  }
}

class Step extends ProcessorNode<unknown[], unknown> {
  process(...inputs: unknown[]) {
    return inputs[0];
  }
}

class Sink extends ConsumerNode<unknown[]> {
  consume() {}
}

const names = (nodes: readonly Node[]) => nodes.map((node) => node.name);

/** Every in-order parent of every node comes before it. */
function expectParentsFirst(order: readonly Node[]): void {
  const position = new Map(order.map((node, index) => [node, index]));
  for (const [index, node] of order.entries()) {
    for (const parent of node.parents) {
      const at = position.get(parent);
      if (at !== undefined) expect(at, `${parent.name} before ${node.name}`).toBeLessThan(index);
    }
  }
}

/** p → left, right → join → sink, with `right` wired first to p's children list. */
function diamond() {
  const p = new Source({ name: 'p' });
  const right = new Step({ name: 'right' }).from(p);
  const left = new Step({ name: 'left' }).from(p);
  const join = new Step({ name: 'join' }).from(left, right);
  const sink = new Sink({ name: 'sink' }).from(join);
  return { p, left, right, join, sink };
}

describe('topologicalSort', () => {
  it('sorts a diamond parents first, siblings in wiring order', () => {
    const { p } = diamond();
    const { order, cycle } = topologicalSort([p]);
    expect(cycle).toEqual([]);
    expect(names(order)).toEqual(['p', 'right', 'left', 'join', 'sink']);
    expectParentsFirst(order);
  });

  it('is deterministic: the same graph built twice gives the same order', () => {
    const first = names(topologicalSort([diamond().p]).order);
    const second = names(topologicalSort([diamond().p]).order);
    expect(second).toEqual(first);
    // And sorting the same graph twice changes nothing.
    const { p } = diamond();
    expect(topologicalSort([p]).order).toEqual(topologicalSort([p]).order);
  });

  it('with two producers, a node discovered early still waits for its later parents', () => {
    const p1 = new Source({ name: 'p1' });
    const p2 = new Source({ name: 'p2' });
    const a = new Step({ name: 'a' }).from(p2);
    const b = new Step({ name: 'b' }).from(a);
    // join is discovered from p1 before a and b are, but depends on b.
    const join = new Step({ name: 'join' }).from(p1, b);
    new Sink({ name: 'sink' }).from(join);
    const { order, cycle } = topologicalSort([p1, p2]);
    expect(cycle).toEqual([]);
    expect(names(order)).toEqual(['p1', 'p2', 'a', 'b', 'join', 'sink']);
    expectParentsFirst(order);
  });

  it('among ready nodes, the one discovered first goes first (not the one that became ready first)', () => {
    const p = new Source({ name: 'p' });
    const a = new Step({ name: 'A' });
    const c = new Step({ name: 'C' });
    // p's children, in wiring order: A (which also waits for C), B, C. D hangs off B.
    a.from(p, c);
    const b = new Step({ name: 'B' }).from(p);
    c.from(p);
    new Step({ name: 'D' }).from(b);
    // D becomes ready (after B) before A does (after C), but A was discovered first.
    expect(names(topologicalSort([p]).order)).toEqual(['p', 'B', 'C', 'A', 'D']);
  });

  it('follows the order of the roots', () => {
    const p1 = new Source({ name: 'p1' });
    const p2 = new Source({ name: 'p2' });
    const x = new Step({ name: 'x' }).from(p1);
    const y = new Step({ name: 'y' }).from(p2);
    new Sink({ name: 'sink' }).from(x, y);
    expect(names(topologicalSort([p1, p2]).order)).toEqual(['p1', 'p2', 'x', 'y', 'sink']);
    expect(names(topologicalSort([p2, p1]).order)).toEqual(['p2', 'p1', 'y', 'x', 'sink']);
  });

  it('a root listed twice appears once', () => {
    const { p } = diamond();
    expect(names(topologicalSort([p, p]).order)).toEqual(['p', 'right', 'left', 'join', 'sink']);
  });

  it('returns the nodes on and behind a cycle, and sorts the rest', () => {
    const p = new Source({ name: 'p' });
    const ok = new Step({ name: 'ok' }).from(p);
    const a = new Step({ name: 'a' });
    const b = new Step({ name: 'b' }).from(a);
    a.from(p, b);
    const behind = new Sink({ name: 'behind' }).from(b);
    const { order, cycle } = topologicalSort([p]);
    expect(order).toEqual([p, ok]);
    expect(new Set(cycle)).toEqual(new Set([a, b, behind]));
  });

  it('counts only parents reachable from the roots', () => {
    const p = new Source({ name: 'p' });
    const outside = new Source({ name: 'outside' });
    const join = new Step({ name: 'join' }).from(p, outside);
    const { order, cycle } = topologicalSort([p]);
    expect(order).toEqual([p, join]);
    expect(cycle).toEqual([]);
  });
});
