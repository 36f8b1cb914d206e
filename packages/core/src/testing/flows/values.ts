import { defineFlow, Flow, ProcessorNode, ProducerNode, type ProducerOptions } from '../../index.js';
import { FileAppenderConsumer, IdentityProcessor, IntProducer } from '../../nodes.js';
import { describeValue, REFUSED_CASES, Undecodable, VALUE_CASES } from './valueCases.js';

/** Emits `{ index, value }` for each case of the value matrix, built in this task. */
class ValueCaseProducer extends ProducerNode<{ index: number; value: unknown }> {
  *produce() {
    for (const [index, valueCase] of VALUE_CASES.entries()) yield { index, value: valueCase.make() };
  }
}

/** Turns every input into the refused value `kind`: it must fail in this node, the sender. */
class Refuser extends ProcessorNode<[number], unknown> {
  constructor(private readonly refused: string) {
    super({ name: 'maker' });
  }

  process(): unknown {
    if (this.refused === 'undecodable') return { item: new Undecodable() };
    return REFUSED_CASES[this.refused]?.make();
  }
}

/**
 * Without `refuse`: the value matrix → identity (2 replicas: every value is decoded and sent again)
 * → a file of descriptions. With `refuse`: numbers → a node sending a refused value → file
 * (`refuse: 'undecodable'`: a value that the sender encodes and the receiver, `sink`, cannot decode).
 */
export default defineFlow((params: { out: string; fps?: number; refuse?: string }) => {
  if (params.refuse !== undefined) {
    // Paced, so that it yields: an unpaced synchronous producer cannot be stopped on realtime yet (issue 12),
    // and its kill would be reported instead of the refusal.
    const numbers = new IntProducer(0, 1_000_000, { name: 'numbers', fps: 100 });
    const maker = new Refuser(params.refuse).from(numbers);
    const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(maker);
    return new Flow([numbers], [sink]);
  }
  const options: ProducerOptions = params.fps === undefined ? { name: 'values' } : { name: 'values', fps: params.fps };
  const values = new ValueCaseProducer(options);
  const identity = new IdentityProcessor({ name: 'identity', nbTasks: 2 }).from(values);
  const sink = new FileAppenderConsumer<[{ index: number; value: unknown }]>(params.out, {
    name: 'sink',
    format: (item) => {
      const { index, value } = item as { index: number; value: unknown };
      return JSON.stringify({ index, description: describeValue(value) });
    },
  }).from(identity);
  return new Flow([values], [sink]);
});
