import {
  defineFlow,
  Flow,
  type Node,
  ProcessorNode,
  type ProcessorOptions,
  type ProduceContext,
  ProducerNode,
  timestamped,
} from '../../index.js';
import { FileAppenderConsumer, JoinerProcessor } from '../../nodes.js';
import type { RandomFlowSpec } from '../randomFlows.js';

/** `length` slots as fast as they go, each `[index, slot]` stamped `slot × periodMs`. */
class Stamped extends ProducerNode<[number, number]> {
  constructor(
    private readonly index: number,
    private readonly length: number,
    private readonly periodMs: number,
  ) {
    super({ name: `p${index}` });
  }

  async *produce(ctx: ProduceContext) {
    for (let slot = 0; slot < this.length && !ctx.signal.aborted; slot++)
      yield timestamped<[number, number]>([this.index, slot], slot * this.periodMs);
  }
}

/** A value's hash: the same for the same value in every task. */
function hash(value: unknown): number {
  let code = 17;
  for (const char of JSON.stringify(value) ?? '') code = (code * 31 + char.charCodeAt(0)) % 1_000_003;
  return code;
}

/**
 * Identity that skips (throws; `onError: 'skip'`) the values whose hash `% skipEvery` is 0. Replicas
 * wait 0–2 ms per value (by hash), so they finish out of order.
 */
class Relay extends ProcessorNode<[unknown], unknown> {
  constructor(
    private readonly skipEvery: number | undefined,
    options: ProcessorOptions,
  ) {
    super(options);
  }

  async process(value: unknown): Promise<unknown> {
    const code = hash(value);
    if (this.nbTasks > 1) await new Promise((resolve) => setTimeout(resolve, code % 3));
    if (this.skipEvery !== undefined && code % this.skipEvery === 0) throw new Error('skipped on purpose');
    return value;
  }
}

/** The flow a {@link RandomFlowSpec} describes; the sink writes to `out`. */
export default defineFlow((params: { spec: RandomFlowSpec; out: string }) => {
  const { spec } = params;
  const producers = spec.producers.map(({ length, periodMs }, index) => new Stamped(index, length, periodMs));
  const built: Node[] = [...producers];
  for (const node of spec.nodes) {
    const name = `n${built.length}`;
    if (node.kind === 'relay') {
      const onError = node.skipEvery === undefined ? {} : { onError: 'skip' as const };
      built.push(new Relay(node.skipEvery, { name, nbTasks: node.tasks, ...onError }).from(built[node.from] as Node));
      continue;
    }
    const parents = node.from.map((index) => built[index] as Node);
    if (node.kind === 'zip') {
      built.push(new JoinerProcessor({ name, nbTasks: node.tasks }).from(...parents));
      continue;
    }
    const { toleranceMs, quorum, collect } = node;
    built.push(new JoinerProcessor({ name, join: { mode: 'time', toleranceMs, quorum, collect } }).from(...parents));
  }
  const { sink } = spec;
  const join =
    sink.join === 'time' ? { join: { mode: 'time', toleranceMs: sink.toleranceMs ?? 0, quorum: 1, collect: 'all' } as const } : {};
  const consumer = new FileAppenderConsumer(params.out, { name: 'sink', ...join }).from(...sink.from.map((index) => built[index] as Node));
  return new Flow(producers, [consumer]);
});
