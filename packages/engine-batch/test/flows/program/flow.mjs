import { appendFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow } from '@vf/core';
import { IdentityProcessor, IntProducer } from '@vf/core/nodes';

/** A flow module in plain JavaScript (as a build step would leave it): numbers → relay → sink. */
class Sink extends ConsumerNode {
  constructor(params) {
    super({ name: 'sink' });
    this.out = params.out;
    this.starts = params.starts;
  }

  open() {
    appendFileSync(this.starts, `${JSON.stringify({ node: this.name, argv1: process.argv[1], execArgv: process.execArgv })}\n`);
  }

  consume(value) {
    appendFileSync(this.out, `${value}\n`);
  }
}

export default defineFlow((params) => {
  const numbers = new IntProducer(0, 9, { name: 'numbers' });
  const relay = new IdentityProcessor({ name: 'relay' }).from(numbers);
  return new Flow([numbers], [new Sink(params).from(relay)]);
});
