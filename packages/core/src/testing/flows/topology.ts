import { defineFlow, Flow, ProcessorNode, type ProcessorOptions } from '../../index.js';
import { FileAppenderConsumer, IntProducer } from '../../nodes.js';
import { Affine, DelayedIdentity } from './fixtureNodes.js';

/** The shapes of the topology matrix: replicated nodes wherever they sit. */
export type TopologyShape = 'chain' | 'replicatedJoin' | 'joinThenReplicas' | 'fanOut';

/**
 * Joins `2x` (from `double`) and `x + 1000` (from `shift`) back into `x`, and throws when the two
 * inputs do not come from the same origin: a misaligned join fails the flow instead of passing.
 */
class Unpair extends ProcessorNode<[number, number], number> {
  constructor(options: ProcessorOptions = {}) {
    super(options);
  }

  process(doubled: number, shifted: number): number {
    if (doubled / 2 !== shifted - 1000) throw new Error(`misaligned join: ${doubled} with ${shifted}`);
    return shifted - 1000;
  }
}

/**
 * Replicated nodes in every position, each flow ending in `sink` (written to `out`) with the origin
 * of every item, so one check fits all: batch must deliver 0..end in order, exactly once.
 * - `chain`: replicas feeding replicas (2 → 3 tasks).
 * - `replicatedJoin`: a join running as 3 tasks, fed by a replicated and a one-task branch.
 * - `joinThenReplicas`: a replicated join (2 tasks) feeding a replicated node (3 tasks).
 * - `fanOut`: a replicated node feeding two replicated nodes (3 and 2 tasks) that meet in a one-task
 *   join, and a second consumer (`sink2`, written to `out2`) straight after the first replicas.
 */
export default defineFlow((params: { shape: TopologyShape; end: number; out: string; out2?: string; maxDelayMs?: number }) => {
  const delay = params.maxDelayMs ?? 2;
  const numbers = new IntProducer(0, params.end, { name: 'numbers' });
  const sink = (parent: ProcessorNode<never, number>, name = 'sink', out = params.out) =>
    new FileAppenderConsumer(out, { name }).from(parent);
  switch (params.shape) {
    case 'chain': {
      const first = new DelayedIdentity(delay, undefined, { name: 'first', nbTasks: 2 }).from(numbers);
      const second = new DelayedIdentity(delay, undefined, { name: 'second', nbTasks: 3 }).from(first);
      return new Flow([numbers], [sink(second)]);
    }
    case 'replicatedJoin': {
      const double = new Affine(2, 0, { name: 'double', nbTasks: 2 }).from(numbers);
      const shift = new Affine(1, 1000, { name: 'shift' }).from(numbers);
      const unpair = new Unpair({ name: 'unpair', nbTasks: 3 }).from(double, shift);
      return new Flow([numbers], [sink(unpair)]);
    }
    case 'joinThenReplicas': {
      const double = new Affine(2, 0, { name: 'double' }).from(numbers);
      const shift = new Affine(1, 1000, { name: 'shift', nbTasks: 2 }).from(numbers);
      const unpair = new Unpair({ name: 'unpair', nbTasks: 2 }).from(double, shift);
      const after = new DelayedIdentity(delay, undefined, { name: 'after', nbTasks: 3 }).from(unpair);
      return new Flow([numbers], [sink(after)]);
    }
    case 'fanOut': {
      const first = new DelayedIdentity(delay, undefined, { name: 'first', nbTasks: 2 }).from(numbers);
      const double = new Affine(2, 0, { name: 'double', nbTasks: 3 }).from(first);
      const shift = new Affine(1, 1000, { name: 'shift', nbTasks: 2 }).from(first);
      const unpair = new Unpair({ name: 'unpair' }).from(double, shift);
      return new Flow([numbers], [sink(unpair), sink(first, 'sink2', params.out2 ?? `${params.out}.2`)]);
    }
  }
});
