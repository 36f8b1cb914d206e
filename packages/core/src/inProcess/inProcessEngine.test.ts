import { describe, expect, it } from 'vitest';
import { Flow } from '../flow/flow.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { ProcessorNode } from '../nodes/processorNode.js';
import { ProducerNode } from '../nodes/producerNode.js';
import { timestamped } from '../nodes/timestamped.js';
import { describeEngineConformance } from '../testing.js';
import { InProcessEngine } from './inProcessEngine.js';

describeEngineConformance(() => new InProcessEngine({ queueSize: 4 }));
describeEngineConformance(() => new InProcessEngine({ queueSize: 1 }), { name: 'InProcessEngine, queueSize 1' });

/** Items 0..count-1, stamped 10 ms apart. */
class Stamped extends ProducerNode<number> {
  constructor(
    private readonly count: number,
    name: string,
  ) {
    super({ name });
  }

  *produce() {
    for (let item = 0; item < this.count; item++) yield timestamped(item, item * 10);
  }
}

class Pair extends ProcessorNode<[number, number], number> {
  process(a: number): number {
    return a;
  }
}

class Discard extends ConsumerNode<[unknown, unknown]> {
  consume(): void {}
}

describe('InProcessEngine stop()', () => {
  // A flow that cannot drain: `pair` (aligned by origin) ends only once `long` ends, `long` is
  // blocked on the time join's full queue, and the join waits for `pair` to send a later item or
  // end before it closes its window. stop() cannot drain it; the stop timeout aborts the waits.
  it('ends a flow that cannot drain once stopTimeoutMs has passed: join() resolves stopped', { timeout: 20_000 }, async () => {
    const short = new Stamped(1, 'short');
    const long = new Stamped(12, 'long');
    const pair = new Pair({ name: 'pair' }).from(short, long);
    const sink = new Discard({ name: 'sink', join: { mode: 'time', toleranceMs: 25, quorum: 2, collect: 'all' } }).from(pair, long);
    const flow = new Flow([short, long], [sink]);
    await flow.run(new InProcessEngine({ queueSize: 4, stopTimeoutMs: 300 }), { handleSigint: false });
    // Stuck once `long` has filled the join's queue and nothing moves (counters come every 250 ms).
    const deadline = Date.now() + 10_000;
    const emitted = () => flow.liveStats()?.nodes.find((node) => node.name === 'long')?.emitted ?? 0;
    while (emitted() < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(emitted()).toBe(4);
    flow.stop();
    // Before, join() never resolved (and a program with nothing else to do exited with code 13).
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('join() still pending 10 s after stop()'), 10_000);
    });
    const report = await Promise.race([flow.join(), overdue]).finally(() => clearTimeout(timer));
    expect(typeof report === 'string' ? report : report.status).toBe('stopped');
  });
});
