import { describe, expect, it } from 'vitest';
import { FlowValidationError, isVfError } from '../errors.js';
import { Flow } from '../flow/flow.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { IntProducer } from '../library/intProducer.js';
import { ConsumerNode } from './consumerNode.js';
import { FunctionProcessorNode } from './functionProcessorNode.js';

/** Keeps every input set it consumes. */
class Collect<TIn extends unknown[]> extends ConsumerNode<TIn> {
  readonly items: TIn[] = [];

  consume(...inputs: TIn): void {
    this.items.push(inputs);
  }
}

describe('FunctionProcessorNode', () => {
  it('runs a synchronous function on InProcessEngine, in order', async () => {
    const numbers = new IntProducer(0, 9);
    const doubled = new FunctionProcessorNode((value: number) => value * 2, { name: 'double' }).from(numbers);
    const sink = new Collect<[number]>().from(doubled);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine());
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(sink.items.map(([value]) => value)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(report.nodes.map((node) => node.name)).toEqual(['IntProducer_1', 'double', 'Collect_1']);
  });

  it('awaits an async function, runs as nbTasks replicas, and keeps order', async () => {
    const numbers = new IntProducer(0, 29);
    const slow = new FunctionProcessorNode(
      async (value: number) => {
        await new Promise((resolve) => setTimeout(resolve, (value * 7) % 5));
        return `#${value}`;
      },
      { nbTasks: 3 },
    ).from(numbers);
    const sink = new Collect<[string]>().from(slow);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine());
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(sink.items.map(([value]) => value)).toEqual(Array.from({ length: 30 }, (_, index) => `#${index}`));
    expect(report.nodes.find((node) => node.name === 'FunctionProcessorNode_1')?.tasks).toBe(3);
  });

  it('takes one positional input per parent, in wiring order', async () => {
    const numbers = new IntProducer(1, 5);
    const square = new FunctionProcessorNode((value: number) => value * value).from(numbers);
    const pair = new FunctionProcessorNode((value: number, squared: number) => `${value}²=${squared}`).from(numbers, square);
    const sink = new Collect<[string]>().from(pair);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine());
    expect((await flow.join()).status).toBe('completed');
    expect(sink.items.map(([value]) => value)).toEqual(['1²=1', '2²=4', '3²=9', '4²=16', '5²=25']);
  });

  it("fails the flow with the function's error, naming the node", async () => {
    const numbers = new IntProducer(0, 9);
    const failing = new FunctionProcessorNode(
      (value: number) => {
        if (value === 3) throw new RangeError('three is not allowed');
        return value;
      },
      { name: 'picky' },
    ).from(numbers);
    const flow = new Flow([numbers], [new Collect<[number]>().from(failing)]);
    await flow.run(new InProcessEngine());
    const report = await flow.join();
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('picky');
    expect((report.error?.cause as Error | undefined)?.message).toBe('three is not allowed');
  });

  it('takes the usual processor options and validates them', () => {
    const node = new FunctionProcessorNode((value: number) => value, { name: 'f', nbTasks: 2, deviceType: 'gpu', gpuMemoryMb: 500 });
    expect([node.name, node.nbTasks, node.deviceType, node.gpuMemoryMb, node.kind]).toEqual(['f', 2, 'gpu', 500, 'processor']);
    expect(() => new FunctionProcessorNode((value: number) => value, { nbTasks: 0 })).toThrow(/nbTasks must be a positive integer/);
  });

  it('refuses something that is not a function with INVALID_OPTION naming the node', () => {
    let caught: unknown;
    try {
      new FunctionProcessorNode(42 as never, { name: 'broken' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlowValidationError);
    expect(isVfError(caught) && caught.code).toBe('INVALID_OPTION');
    expect(String((caught as Error).message)).toMatch(/processor "broken".*function.*got number/);
  });
});
