import { appendFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow, ProcessorNode } from '@vf/core';
import { IntProducer } from '@vf/core/nodes';
import { Step as OffsetStep } from './helpers.js';

/**
 * numbers → OffsetStep (from a local `.ts` file) → Step (same class name, this file) → sink, for
 * the task program tests. Every node records how its process was started (`open()`), and `Step`
 * throws on `throwAt` (the `throw` line is the one marked below).
 */
interface Params {
  readonly out: string;
  readonly starts: string;
  readonly throwAt?: number;
}

class Step extends ProcessorNode<[number], number> {
  constructor(private readonly params: Params) {
    super();
  }

  override open(): void {
    record(this.params.starts, this.name);
  }

  process(value: number): number {
    if (value === this.params.throwAt) {
      throw new Error(`step refused ${value}`); // THROW-LINE
    }
    return value * 2;
  }
}

class Sink extends ConsumerNode<[number]> {
  constructor(private readonly params: Params) {
    super({ name: 'sink' });
  }

  override open(): void {
    record(this.params.starts, this.name);
  }

  consume(value: number): void {
    appendFileSync(this.params.out, `${value}\n`);
  }
}

function record(file: string, node: string): void {
  appendFileSync(file, `${JSON.stringify({ node, argv1: process.argv[1], execArgv: process.execArgv })}\n`);
}

export default defineFlow((params: Params) => {
  const numbers = new IntProducer(0, 9, { name: 'numbers' });
  const offset = new OffsetStep().from(numbers);
  const step = new Step(params).from(offset);
  const sink = new Sink(params).from(step);
  return new Flow([numbers], [sink]);
});
