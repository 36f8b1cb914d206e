import { appendFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow } from '@vf/core';
import { IdentityProcessor, IntProducer } from '@vf/core/nodes';

/** A flow module in plain JavaScript (as a build step would leave it): numbers → relay → sink. */
class Sink extends ConsumerNode {
  constructor(out) {
    super({ name: 'sink' });
    this.out = out;
  }

  consume(value) {
    appendFileSync(this.out, `${value}\n`);
  }
}

export default defineFlow((params) => {
  const numbers = new IntProducer(0, 9, { name: 'numbers' });
  const relay = new IdentityProcessor({ name: 'relay' }).from(numbers);
  return new Flow([numbers], [new Sink(params.out).from(relay)]);
});
