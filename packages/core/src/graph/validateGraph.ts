import { FlowValidationError } from '../errors.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { describe, Node } from '../nodes/node.js';
import { ProducerNode } from '../nodes/producerNode.js';
import { emitWarningOnce } from '../warnings.js';
import { unrelatedOriginJoins } from './originJoins.js';
import { topologicalSort } from './topologicalSort.js';

/** A validated graph: every node in deterministic topological order, with unique names. */
export interface FlowGraph {
  readonly producers: readonly ProducerNode[];
  readonly consumers: readonly ConsumerNode[];
  /** Every node of the flow, parents before children, the same order in every process. */
  readonly nodes: readonly Node[];
}

/**
 * Checks the graph described by `producers` and `consumers` and names its unnamed nodes.
 * Throws {@link FlowValidationError} naming the nodes involved.
 */
export function validateGraph(producers: readonly unknown[], consumers: readonly unknown[]): FlowGraph {
  if (!Array.isArray(producers) || producers.length === 0) {
    throw new FlowValidationError('NO_PRODUCER', 'a flow needs at least one producer');
  }
  if (!Array.isArray(consumers) || consumers.length === 0) {
    throw new FlowValidationError('NO_CONSUMER', 'a flow needs at least one consumer');
  }
  checkListed(producers, ProducerNode, 'producers');
  checkListed(consumers, ConsumerNode, 'consumers');
  const producerList = producers as ProducerNode[];
  const consumerList = consumers as ConsumerNode[];

  const { order, cycle } = topologicalSort(producerList);
  if (cycle.length > 0) {
    throw new FlowValidationError('CYCLE', `the graph has a cycle through ${describe(cycle)}`, {
      details: { nodes: cycle.map((node) => node.name) },
    });
  }
  const reachable = new Set<Node>(order);

  const unreachableConsumers = consumerList.filter((consumer) => !reachable.has(consumer));
  if (unreachableConsumers.length > 0) {
    throw new FlowValidationError(
      'UNREACHABLE',
      `consumer ${describe(unreachableConsumers)} cannot be reached from any producer of the flow`,
      {
        details: { nodes: unreachableConsumers.map((node) => node.name) },
      },
    );
  }
  for (const node of order) {
    const missing = node.parents.filter((parent) => !reachable.has(parent));
    if (missing.length === 0) continue;
    const unlistedProducers = missing.filter((parent) => parent instanceof ProducerNode);
    if (unlistedProducers.length > 0) {
      throw new FlowValidationError(
        'UNLISTED_NODE',
        `producer ${describe(unlistedProducers)} feeds "${node.name}" but is not listed among the flow's producers`,
        {
          details: { nodes: unlistedProducers.map((parent) => parent.name), node: node.name },
        },
      );
    }
    throw new FlowValidationError(
      'UNREACHABLE',
      `node ${describe(missing)} (parent of "${node.name}") cannot be reached from any producer of the flow`,
      {
        details: { nodes: missing.map((parent) => parent.name), node: node.name },
      },
    );
  }
  const listed = new Set<Node>(consumerList);
  const unlistedConsumers = order.filter((node) => node instanceof ConsumerNode && !listed.has(node));
  if (unlistedConsumers.length > 0) {
    throw new FlowValidationError(
      'UNLISTED_NODE',
      `consumer ${describe(unlistedConsumers)} is wired into the flow but not listed among its consumers`,
      {
        details: { nodes: unlistedConsumers.map((node) => node.name) },
      },
    );
  }

  const taken = order.filter((node) => node.inActiveFlow);
  if (taken.length > 0) {
    throw new FlowValidationError(
      'IN_ANOTHER_FLOW',
      `node ${describe(taken)} already belongs to another flow that has not finished: a node runs in one flow at a time; build the second flow from new nodes (a flow module's factory makes fresh ones on every call)`,
      { details: { nodes: taken.map((node) => node.name) } },
    );
  }
  assignNames(order);
  for (const { node, grouped, other, timeJoin } of unrelatedOriginJoins(order)) {
    const counts =
      grouped === timeJoin
        ? `"${grouped.name}" is a time join (its seqs count its groups)`
        : `"${grouped.name}" carries the seqs of time join "${timeJoin.name}" (its groups)`;
    emitWarningOnce(
      `"${node.name}" joins "${grouped.name}" and "${other.name}" by origin, but ${counts} and "${other.name}" those of a stream that time join also reads: it pairs unrelated messages, and on the batch engine and InProcessEngine its queues grow with every item once their rates differ. Join them by time instead (join: { mode: 'time', ... })`,
      { code: 'VF_JOIN_UNRELATED_ORIGINS' },
    );
  }
  return { producers: producerList, consumers: consumerList, nodes: order };
}

function checkListed(list: readonly unknown[], type: abstract new (...args: never[]) => Node, what: string): void {
  const seen = new Set<unknown>();
  for (const [index, item] of list.entries()) {
    if (!(item instanceof type)) {
      const label = item instanceof Node ? `"${item.name}" is a ${item.kind}` : `item ${index} is not a node`;
      throw new FlowValidationError(what === 'producers' ? 'NO_PRODUCER' : 'INVALID_WIRING', `flow ${what}: ${label}`, {
        details: { index },
      });
    }
    if (seen.has(item)) {
      throw new FlowValidationError('INVALID_WIRING', `flow ${what}: "${(item as Node).name}" is listed twice`, {
        details: { node: (item as Node).name },
      });
    }
    seen.add(item);
  }
}

/**
 * Explicit names must be unique (else `DUPLICATE_NAME`); unnamed nodes get `Class_n`, counted per
 * class in `order` (topological). For a flow's nodes, and for a task module's members.
 */
export function assignNames(order: readonly Node[], where?: string): void {
  const taken = new Map<string, Node>();
  for (const node of order) {
    if (!node.hasExplicitName) continue;
    const other = taken.get(node.name);
    if (other !== undefined) {
      const message = `two nodes are named "${node.name}": ${other.toString()} and ${node.toString()}`;
      throw new FlowValidationError('DUPLICATE_NAME', where === undefined ? message : `${where}: ${message}`, {
        details: { name: node.name },
      });
    }
    taken.set(node.name, node);
  }
  const counters = new Map<string, number>();
  for (const node of order) {
    if (node.hasExplicitName) continue;
    const base = node.constructor.name || node.kind;
    let count = counters.get(base) ?? 0;
    let candidate: string;
    do {
      count += 1;
      candidate = `${base}_${count}`;
    } while (taken.has(candidate));
    counters.set(base, count);
    taken.set(candidate, node);
    node.assignName(candidate);
  }
}
