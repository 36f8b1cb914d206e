import { describe, expect, it } from 'vitest';
import type { MessageMetadata } from '../contracts/messenger.js';
import { FlowValidationError, isVfError, VfError } from '../errors.js';
import { Flow } from '../flow/flow.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { planNodes } from '../plan/executionPlan.js';
import { ConsumerNode, type ConsumerOptions } from './consumerNode.js';
import type { TimeJoinOptions } from './joinOptions.js';
import { ProcessorNode, type ProcessorOptions } from './processorNode.js';
import { ProducerNode } from './producerNode.js';
import { TaskModuleNode } from './taskModuleNode.js';
import { timestamped } from './timestamped.js';

/** Yields `timestamped(value, time)` for each `[value, time]` (or the bare values when `times` is absent). */
class Stamped extends ProducerNode<unknown> {
  constructor(
    private readonly items: ReadonlyArray<readonly [unknown, number | undefined]>,
    name: string,
  ) {
    super({ name });
  }

  *produce() {
    for (const [value, time] of this.items) yield time === undefined ? value : timestamped(value, time);
  }
}

class Pair extends ProcessorNode<[unknown, unknown], unknown[]> {
  process(a: unknown, b: unknown): unknown[] {
    return [a, b];
  }
}

class Keep extends ProcessorNode<[unknown], unknown> {
  process(value: unknown): unknown {
    return value;
  }
}

/** Collects what it consumes (values, or metadata with `metadata: true`). */
class Collect extends ConsumerNode<unknown[]> {
  readonly seen: unknown[][] = [];
  consume(...inputs: unknown[]): void {
    this.seen.push(inputs);
  }
}

const join = (options: Partial<TimeJoinOptions> = {}): TimeJoinOptions => ({ mode: 'time', toleranceMs: 5, ...options });

function expectInvalid(build: () => unknown, option: string, node = 'j'): void {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(FlowValidationError);
    expect(isVfError(error) && error.code).toBe('INVALID_OPTION');
    expect((error as VfError).details).toMatchObject({ node, option });
    expect((error as Error).message).toContain(`"${node}"`);
    expect((error as Error).message).toContain(option);
    return;
  }
  expect.fail(`expected INVALID_OPTION for ${option}`);
}

describe('join option: validation', () => {
  const processor = (options: ProcessorOptions) => new Pair({ name: 'j', ...options });
  const consumer = (options: ConsumerOptions) => new Collect({ name: 'j', ...options });

  it.each([
    [{ join: 'time' }, 'join'],
    [{ join: { toleranceMs: 5 } }, 'join.mode'],
    [{ join: { mode: 'origin', toleranceMs: 5 } }, 'join.mode'],
    [{ join: { mode: 'time' } }, 'join.toleranceMs'],
    [{ join: join({ toleranceMs: -1 }) }, 'join.toleranceMs'],
    [{ join: join({ toleranceMs: Number.NaN }) }, 'join.toleranceMs'],
    [{ join: join({ timeoutMs: -5 }) }, 'join.timeoutMs'],
    [{ join: join({ timeoutMs: 2 ** 31 }) }, 'join.timeoutMs'],
    [{ join: join({ quorum: 0 }) }, 'join.quorum'],
    [{ join: join({ quorum: 1.5 }) }, 'join.quorum'],
    [{ join: join({ collect: 'nearest' as never }) }, 'join.collect'],
    [{ join: { ...join(), tolerance: 3 } }, 'join.tolerance'],
  ])('refuses %o naming the node and the field (%s)', (options, option) => {
    expectInvalid(() => processor(options as ProcessorOptions), option);
    expectInvalid(() => consumer(options as ConsumerOptions), option);
  });

  it('refuses replicas: a time join is state of one task', () => {
    expectInvalid(() => processor({ nbTasks: 2, join: join() }), 'join');
  });

  it('refuses a node with fewer than two parents, and a quorum above the number of parents', () => {
    const a = new Stamped([], 'a');
    const b = new Stamped([], 'b');
    expectInvalid(() => processor({ join: join() }).from(a), 'join');
    expectInvalid(() => processor({ join: join({ quorum: 3 }) }).from(a, b), 'join.quorum');
    expect(processor({ join: join({ quorum: 2 }) }).from(a, b).timeJoin).toEqual({
      mode: 'time',
      toleranceMs: 5,
      timeoutMs: 1000,
      quorum: 2,
      collect: 'first',
    });
  });

  it('refuses a time join inside a task module', () => {
    const a = new Keep({ name: 'a' });
    const b = new Keep({ name: 'b' }).from(a);
    const c = new Keep({ name: 'c' }).from(a);
    new Pair({ name: 'j', join: join() }).from(b, c);
    expectInvalid(() => new TaskModuleNode(a, new Pair({ name: 'x' }).from(b, c)), 'join', 'j');
  });

  it('travels in the plan', () => {
    const a = new Stamped([], 'a');
    const b = new Stamped([], 'b');
    const sink = consumer({ join: join({ quorum: 1, collect: 'all' }) }).from(a, b);
    const flow = new Flow([a, b], [sink]);
    expect(planNodes(flow.graph).find((node) => node.name === 'j')?.join).toMatchObject({ quorum: 1, collect: 'all' });
    expect(planNodes(flow.graph).find((node) => node.name === 'a')?.join).toBeUndefined();
  });

  it('timestamped() refuses a timestamp that is not a finite number', () => {
    expect(() => timestamped('x', Number.POSITIVE_INFINITY)).toThrow(VfError);
  });
});

describe('join option: behaviour (InProcessEngine)', () => {
  it('groups two producers by stamped event time; the output carries the group’s earliest timestamp', async () => {
    const left = new Stamped(
      [
        ['L0', 0],
        ['L1', 100],
        ['L2', 200],
      ],
      'left',
    );
    const right = new Stamped(
      [
        ['R0', 3],
        ['R2', 196],
      ],
      'right',
    );
    const pair = new Pair({ name: 'pair', join: join({ quorum: 1 }) }).from(left, right);
    const values = new Collect({ name: 'values' }).from(pair);
    const metas = new Collect({ name: 'metas', metadata: true }).from(pair);
    const flow = new Flow([left, right], [values, metas]);
    await flow.run(new InProcessEngine());
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(values.seen.map(([group]) => group)).toEqual([
      ['L0', 'R0'],
      ['L1', undefined],
      ['L2', 'R2'],
    ]);
    expect(metas.seen.map(([meta]) => (meta as MessageMetadata).timestamp)).toEqual([0, 100, 196]);
    expect(metas.seen.map(([meta]) => (meta as MessageMetadata).seq)).toEqual([0, 1, 2]);
    expect(report.nodes.find((node) => node.name === 'pair')?.joins).toEqual({ complete: 2, partial: 1, dropped: 0 });
    expect(report.nodes.find((node) => node.name === 'values')?.joins).toBeUndefined();
    expect(report.format()).toContain('pair joined by time: 2 complete, 1 partial, 0 dropped groups');
  });

  it('groups unstamped items by their capture time (createdAt), and a consumer with metadata gets undefined for a missing parent', async () => {
    const a = new Stamped([['a', undefined]], 'a');
    const b = new Stamped([], 'b');
    const sink = new Collect({ name: 'sink', metadata: true, join: join({ quorum: 1 }) }).from(a, b);
    const flow = new Flow([a, b], [sink]);
    await flow.run(new InProcessEngine());
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(sink.seen).toHaveLength(1);
    const [meta, missing] = sink.seen[0] as [MessageMetadata, undefined];
    expect(meta.node).toBe('a');
    expect(meta.timestamp).toBeUndefined();
    expect(missing).toBeUndefined();
  });
});
