import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerNode, defineFlow, Flow, ProcessorNode, ProducerNode } from '@vf/core';

/** How the flow misbehaves. */
type Fault = 'none' | 'producerThrows' | 'consumerHangs' | 'processorSpins';

interface Params {
  readonly fault: Fault;
  readonly out: string;
  readonly closeLog: string;
}

/** Counts up every 5 ms, endlessly; `producerThrows`: throws on item 10; `processorSpins`: as fast as it can. */
class Ticker extends ProducerNode<number> {
  constructor(private readonly params: Params) {
    super({ name: 'ticker' });
  }

  async *produce({ signal }: { signal: AbortSignal }) {
    for (let index = 0; !signal.aborted; index++) {
      if (this.params.fault === 'producerThrows' && index === 10) throw new Error('camera unplugged at item 10');
      yield index;
      if (this.params.fault !== 'processorSpins') await sleep(5);
    }
  }

  override close(): void {
    appendFileSync(this.params.closeLog, 'ticker\n');
  }
}

/** Passes items on; `processorSpins`: computes forever (synchronously) from item 3 on. */
class Relay extends ProcessorNode<[number], number> {
  constructor(private readonly params: Params) {
    super({ name: 'identity' });
  }

  process(value: number): number {
    if (this.params.fault === 'processorSpins' && value >= 3) for (;;);
    return value;
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
  const identity = new Relay(params).from(ticker);
  const sink = new Sink(params).from(identity);
  return new Flow([ticker], [sink]);
});
