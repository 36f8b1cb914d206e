import { defineFlow, Flow, type OnError, ProcessorNode } from '@vf/core';
import { IntProducer, VoidConsumer } from '@vf/core/nodes';

/** `none`: never fails (the baseline); `every100`: throws on `value % 100 === 99`; `flaky`: throws once on every item. */
type Fault = 'none' | 'every100' | 'flaky';

class Faulty extends ProcessorNode<[number], number> {
  readonly #failedOnce = new Set<number>();

  constructor(
    private readonly fault: Fault,
    onError: OnError,
  ) {
    super({ name: 'faulty', onError });
  }

  process(value: number): number {
    if (this.fault === 'every100' && value % 100 === 99) throw new Error(`corrupt item ${value}`);
    if (this.fault === 'flaky' && !this.#failedOnce.has(value)) {
      this.#failedOnce.add(value);
      throw new Error(`flaky on ${value}`);
    }
    return value;
  }
}

/** numbers → faulty → sink (discards): the cost of failures, retries and dead letters against a clean run. */
export default defineFlow((params: { count: number; fault: Fault; onError: OnError }) => {
  const numbers = new IntProducer(0, params.count - 1, { name: 'numbers' });
  const faulty = new Faulty(params.fault, params.onError).from(numbers);
  const sink = new VoidConsumer({ name: 'sink' }).from(faulty);
  return new Flow([numbers], [sink]);
});
