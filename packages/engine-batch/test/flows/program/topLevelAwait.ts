import { appendFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow } from '@vf/core';
import { IdentityProcessor, IntProducer } from '@vf/core/nodes';

/** A flow module with a top-level await: the task program imports it lazily all the same. */
const ready = await Promise.resolve(true);

class Sink extends ConsumerNode<[number]> {
  constructor(private readonly params: { out: string; starts: string }) {
    super({ name: 'sink' });
  }

  override open(): void {
    appendFileSync(this.params.starts, `${JSON.stringify({ node: this.name, argv1: process.argv[1], execArgv: process.execArgv })}\n`);
  }

  consume(value: number): void {
    if (ready) appendFileSync(this.params.out, `${value}\n`);
  }
}

export default defineFlow((params: { out: string; starts: string }) => {
  const numbers = new IntProducer(0, 9, { name: 'numbers' });
  const relay = new IdentityProcessor({ name: 'relay' }).from(numbers);
  return new Flow([numbers], [new Sink(params).from(relay)]);
});
