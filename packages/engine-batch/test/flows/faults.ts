import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerNode, defineFlow, Flow, ProducerNode } from '@vf/core';
import { IdentityProcessor } from '@vf/core/nodes';

/** How the flow misbehaves. */
type Fault = 'none' | 'producerThrows' | 'consumerHangs';

interface Params {
  readonly fault: Fault;
  readonly out: string;
  readonly closeLog: string;
}

/** Counts up every 5 ms, endlessly; `producerThrows`: throws on item 10. */
class Ticker extends ProducerNode<number> {
  constructor(private readonly params: Params) {
    super({ name: 'ticker' });
  }

  async *produce({ signal }: { signal: AbortSignal }) {
    for (let index = 0; !signal.aborted; index++) {
      if (this.params.fault === 'producerThrows' && index === 10) throw new Error('camera unplugged at item 10');
      yield index;
      await sleep(5);
    }
  }

  override close(): void {
    appendFileSync(this.params.closeLog, 'ticker\n');
  }
}

/** Appends each item; `consumerHangs`: never returns from the 5th item on. */
class Sink extends ConsumerNode<[number]> {
  #count = 0;

  constructor(private readonly params: Params) {
    super({ name: 'sink' });
  }

  async consume(value: number): Promise<void> {
    this.#count += 1;
    appendFileSync(this.params.out, `${value}\n`);
    if (this.params.fault === 'consumerHangs' && this.#count >= 5) await new Promise(() => undefined);
  }

  override close(): void {
    appendFileSync(this.params.closeLog, 'sink\n');
  }
}

/** ticker → identity → sink, each recording its close(), with one fault chosen by the test. */
export default defineFlow((params: Params) => {
  const ticker = new Ticker(params);
  const identity = new IdentityProcessor({ name: 'identity' }).from(ticker);
  const sink = new Sink(params).from(identity);
  return new Flow([ticker], [sink]);
});
