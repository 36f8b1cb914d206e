import { describe, expect, it } from 'vitest';
import type { EdgeDrops, EndReason, InputSet, MessageMetadata, RawMessage } from '../contracts/messenger.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { ProcessorNode } from '../nodes/processorNode.js';
import { ProducerNode } from '../nodes/producerNode.js';
import type { TaskSpec } from '../plan/executionPlan.js';
import { MessengerBase } from './messengerBase.js';
import { runTask } from './taskLoop.js';

/**
 * The task loop's fast path: an input the messenger has ready is taken without a promise, a
 * publish that returns nothing is not waited for, and a loop that so never waits still lets the
 * event loop turn. A messenger with every input ready at once is the extreme case.
 */
class ReadyMessenger extends MessengerBase {
  readonly published: unknown[] = [];
  waitedTakes = 0;
  #next = 0;
  readonly #count: number;
  /** Publishes return this (undefined: sent at once). */
  publishResult: () => Promise<void> | undefined = () => undefined;

  constructor(count: number) {
    super({ nodeName: 'n', taskIndex: 0 });
    this.#count = count;
  }

  protected override readyInput(): InputSet | undefined {
    if (this.#next > this.#count) return undefined;
    const seq = this.#next++;
    if (seq === this.#count) return { kind: 'end', reason: 'completed' };
    const meta: MessageMetadata = { seq, ticket: seq, node: 'p', taskIndex: 0, proctimeMs: 0, actualProctimeMs: 0, createdAt: 1 };
    return { kind: 'data', seq, ticket: seq, values: [seq], metas: [meta] };
  }

  protected async nextInput(): Promise<InputSet> {
    this.waitedTakes += 1;
    return this.readyInput() ?? { kind: 'end', reason: 'completed' };
  }

  publishMessage(value: unknown): Promise<void> | undefined {
    this.published.push(value);
    return this.publishResult();
  }

  async publishTerminationMessage(_reason?: EndReason): Promise<void> {}
  receiveRawMessage(): Promise<RawMessage> {
    throw new Error('not used');
  }
  checkForTermination(): boolean {
    return false;
  }
  drops(): readonly EdgeDrops[] {
    return [];
  }
}

const spec: TaskSpec = { id: 1, nodeIndex: 1, nodeName: 'n', taskIndex: 0, nbTasks: 1, device: 'cpu', env: {} };

class Double extends ProcessorNode<[number], number> {
  process(value: number): number {
    return value * 2;
  }
}

describe('runTask with inputs ready at once', () => {
  it('takes them without waiting, and still gives the event loop turns (timers run mid-stream)', async () => {
    const count = 200_000;
    const messenger = new ReadyMessenger(count);
    const seenByTimer: number[] = [];
    const timer = setInterval(() => seenByTimer.push(messenger.published.length), 1);
    try {
      const outcome = await runTask({ node: new Double(), spec, messenger, signal: new AbortController().signal });
      expect(outcome.status).toBe('completed');
    } finally {
      clearInterval(timer);
    }
    expect(messenger.waitedTakes).toBe(0);
    expect(messenger.published).toHaveLength(count);
    expect(messenger.published.slice(0, 3)).toEqual([0, 2, 4]);
    expect(messenger.published.at(-1)).toBe(2 * (count - 1));
    // A timer ran while items were still flowing: the loop did not hold the event loop to the end.
    expect(seenByTimer.some((published) => published > 0 && published < count)).toBe(true);
  });

  it('waits for a publish that returns a promise before the next item, and remembers the last input for passthrough', async () => {
    const messenger = new ReadyMessenger(3);
    const order: string[] = [];
    messenger.publishResult = () => {
      const index = messenger.published.length;
      order.push(`publish ${index}`);
      return new Promise((resolve) =>
        setTimeout(() => {
          order.push(`sent ${index}`);
          resolve();
        }, 2),
      );
    };
    const outcome = await runTask({ node: new Double(), spec, messenger, signal: new AbortController().signal });
    expect(outcome.status).toBe('completed');
    expect(order).toEqual(['publish 1', 'sent 1', 'publish 2', 'sent 2', 'publish 3', 'sent 3']);
    messenger.publishResult = () => undefined;
    await messenger.passthroughMessage();
    expect(messenger.published.at(-1)).toBe(2);
  });

  it('a consumer that throws synchronously fails its task with that error', async () => {
    class Fails extends ConsumerNode<[number]> {
      consume(value: number): void {
        if (value === 5) throw new Error('five');
      }
    }
    const outcome = await runTask({ node: new Fails(), spec, messenger: new ReadyMessenger(10), signal: new AbortController().signal });
    expect(outcome.status).toBe('failed');
    expect(outcome.stats.processed).toBe(5);
    expect(outcome.error?.message).toBe('five');
  });
});

describe('runTask of a producer whose produce() returns no iterable', () => {
  // A `produce` without its `*` or its `return`: it failed with a bare TypeError from inside vf.
  it.each([
    ['a number', () => 5, '5'],
    ['undefined (a promise of it)', async () => undefined, 'undefined'],
    ['an object', () => ({ items: [1, 2] }), 'an object'],
  ])('returning %s fails the task with PRODUCE_NOT_ITERABLE naming the node', async (_what, produce, described) => {
    class Broken extends ProducerNode<number> {
      produce(): Iterable<number> {
        return produce() as unknown as Iterable<number>;
      }
    }
    const messenger = new ReadyMessenger(0);
    const outcome = await runTask({ node: new Broken({ name: 'numbers' }), spec, messenger, signal: new AbortController().signal });
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('PRODUCE_NOT_ITERABLE');
    expect(outcome.error?.message).toBe(
      `node "numbers": produce() returned ${described}, which is neither an Iterable nor an AsyncIterable: return an array, a generator or an async generator (or a promise of one)`,
    );
    expect(messenger.published).toEqual([]);
  });
});
