import { describe, expect, it } from 'vitest';
import { Flow } from '../flow/flow.js';
import { IntProducer } from '../library/intProducer.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { ProcessorNode } from '../nodes/processorNode.js';
import { describeEngineConformance } from '../testing.js';
import { InProcessEngine } from './inProcessEngine.js';

describeEngineConformance(() => new InProcessEngine({ queueSize: 4 }));
describeEngineConformance(() => new InProcessEngine({ queueSize: 1 }), { name: 'InProcessEngine, queueSize 1' });

/** Resolves the item `Gate` holds: called by `ReleasingSink.close()`. */
let releaseGate: () => void = () => undefined;

/** Holds its first item until the sink closes: the flow can move no further, nor drain on stop(). */
class Gate extends ProcessorNode<[number], number> {
  process(item: number): Promise<number> {
    return new Promise((resolve) => {
      releaseGate = () => resolve(item);
    });
  }
}

class ReleasingSink extends ConsumerNode<[number]> {
  consume(): void {}

  override close(): void {
    releaseGate();
  }
}

describe('InProcessEngine stop()', () => {
  // A flow that cannot drain: `gate` holds its first item until `sink` closes, which comes only
  // after its end; `numbers` is blocked on `gate`'s full queue. stop() cannot drain it; the stop
  // timeout aborts the tasks waiting in vf (`numbers`'s publish, `sink`'s receive), `sink` closes,
  // and `gate`'s item comes too late to be published.
  it('ends a flow that cannot drain once stopTimeoutMs has passed: join() resolves stopped', { timeout: 20_000 }, async () => {
    const numbers = new IntProducer(0, 99, { name: 'numbers' });
    const gate = new Gate({ name: 'gate' }).from(numbers);
    const sink = new ReleasingSink({ name: 'sink' }).from(gate);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine({ queueSize: 4, stopTimeoutMs: 300 }), { handleSigint: false });
    // Stuck once `numbers` has filled the queue behind `gate`'s first item (counters come every 250 ms).
    const deadline = Date.now() + 10_000;
    const emitted = () => flow.liveStats()?.nodes.find((node) => node.name === 'numbers')?.emitted ?? 0;
    while (emitted() < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(emitted()).toBe(5);
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
