import type { Node } from '../nodes/node.js';

/** Result of {@link topologicalSort}. */
export interface TopologicalOrder {
  /** Every node reachable from the roots whose in-graph parents come first. */
  readonly order: readonly Node[];
  /** Reachable nodes left out because they sit on (or behind) a cycle; empty for a DAG. */
  readonly cycle: readonly Node[];
}

/**
 * Sorts the nodes reachable from `roots` (following children) so that parents come before
 * children. Deterministic: among ready nodes, the one discovered first (breadth-first from the
 * roots in the given order, children in wiring order) goes first, so the same graph gives the same
 * order in every run and in every process. Only parents inside the reachable set count.
 */
export function topologicalSort(roots: readonly Node[]): TopologicalOrder {
  const discovery = new Map<Node, number>();
  const queue: Node[] = [];
  for (const root of roots) {
    if (!discovery.has(root)) {
      discovery.set(root, discovery.size);
      queue.push(root);
    }
  }
  for (let head = 0; head < queue.length; head++) {
    for (const child of (queue[head] as Node).children) {
      if (!discovery.has(child)) {
        discovery.set(child, discovery.size);
        queue.push(child);
      }
    }
  }

  const pending = new Map<Node, number>();
  for (const node of queue) {
    pending.set(node, node.parents.filter((parent) => discovery.has(parent)).length);
  }
  const byDiscovery = (a: Node, b: Node) => (discovery.get(a) ?? 0) - (discovery.get(b) ?? 0);
  const ready = queue.filter((node) => pending.get(node) === 0);
  const order: Node[] = [];
  while (ready.length > 0) {
    ready.sort(byDiscovery);
    const node = ready.shift() as Node;
    order.push(node);
    for (const child of node.children) {
      const left = (pending.get(child) ?? 0) - 1;
      pending.set(child, left);
      if (left === 0) ready.push(child);
    }
  }
  const placed = new Set(order);
  return { order, cycle: queue.filter((node) => !placed.has(node)) };
}
