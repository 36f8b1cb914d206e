import { describe, expect, it } from 'vitest';
import { Flow } from '../flow/flow.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { IdentityProcessor, JoinerProcessor } from './basicProcessors.js';
import { IntProducer } from './intProducer.js';

class Collect extends ConsumerNode<[unknown]> {
  readonly items: unknown[] = [];

  consume(value: unknown) {
    this.items.push(value);
  }
}

describe('IdentityProcessor and JoinerProcessor', () => {
  it('IdentityProcessor returns its input unchanged', () => {
    const value = { a: 1 };
    expect(new IdentityProcessor().process(value)).toBe(value);
  });

  it('JoinerProcessor returns its inputs as an array in wiring order', () => {
    expect(new JoinerProcessor<[number, string]>().process(1, 'a')).toEqual([1, 'a']);
  });

  it.each([1, 2, 8])(
    'joining producers of different lengths completes with the aligned pairs, the surplus dropped (queueSize %s)',
    async (queueSize) => {
      const long = new IntProducer(0, 19, { name: 'long' });
      const short = new IntProducer(100, 104, { name: 'short' });
      const joiner = new JoinerProcessor<[number, number]>({ name: 'join' }).from(long, short);
      const sink = new Collect({ name: 'sink' }).from(joiner);
      const flow = new Flow([long, short], [sink]);
      await flow.run(new InProcessEngine({ queueSize }));
      const report = await flow.join();

      expect(report.status).toBe('completed');
      expect(sink.items).toEqual([
        [0, 100],
        [1, 101],
        [2, 102],
        [3, 103],
        [4, 104],
      ]);
      const join = report.nodes.find((node) => node.name === 'join');
      expect(join?.received).toBe(5);
      expect(join?.emitted).toBe(5);
      expect(join?.dropped).toBe(15);
      expect(report.nodes.find((node) => node.name === 'long')?.emitted).toBe(20);
    },
  );

  it('joining the short producer first works the same way', async () => {
    const short = new IntProducer(0, 1, { name: 'short' });
    const long = new IntProducer(10, 14, { name: 'long' });
    const joiner = new JoinerProcessor({ name: 'join' }).from(short, long);
    const sink = new Collect({ name: 'sink' }).from(joiner);
    const flow = new Flow([short, long], [sink]);
    await flow.run(new InProcessEngine());
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(sink.items).toEqual([
      [0, 10],
      [1, 11],
    ]);
    expect(report.nodes.find((node) => node.name === 'join')?.dropped).toBe(3);
  });
});
