import { describe, expect, expectTypeOf, it } from 'vitest';
import { FlowValidationError } from '../errors.js';
import { Flow } from '../flow/flow.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { IntProducer } from '../library/intProducer.js';
import { captureLogs } from '../testing/captureLogs.js';
import { ConsumerNode } from './consumerNode.js';
import { OneTaskProcessorNode, ProcessorNode, type ProcessorOptions } from './processorNode.js';
import { TaskModuleNode } from './taskModuleNode.js';

/** Applies `fn` and logs its open()/close() calls into a shared log. */
class Step extends ProcessorNode<number[], number> {
  constructor(
    private readonly fn: (...inputs: number[]) => number | Promise<number>,
    private readonly log: string[] = [],
    options: ProcessorOptions = {},
  ) {
    super(options);
  }

  process(...inputs: number[]) {
    return this.fn(...inputs);
  }

  override open() {
    this.log.push(`open ${this.name}`);
  }

  override async close() {
    await Promise.resolve();
    this.log.push(`close ${this.name}`);
  }
}

class RunningSum extends OneTaskProcessorNode<[number], number> {
  #sum = 0;

  process(value: number) {
    this.#sum += value;
    return this.#sum;
  }
}

class Collect extends ConsumerNode<[unknown]> {
  readonly items: unknown[] = [];

  consume(value: unknown) {
    this.items.push(value);
  }
}

function expectCode(action: () => unknown, code: string, names: readonly string[]): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FlowValidationError);
  expect((caught as FlowValidationError).code).toBe(code);
  for (const name of names) expect((caught as Error).message).toContain(`"${name}"`);
}

/** The first VF_NBTASKS_IGNORED warning logged while `action` runs, if any. */
async function nbTasksWarning(action: () => void): Promise<{ message: string } | undefined> {
  const logs = captureLogs('warn');
  try {
    action();
  } finally {
    logs.stop();
  }
  const record = logs.records.find((candidate) => candidate.code === 'VF_NBTASKS_IGNORED');
  return record === undefined ? undefined : { message: record.msg };
}

describe('TaskModuleNode', () => {
  it('runs entry → exit as one node inside a flow, with the composed results and every open/close', async () => {
    const log: string[] = [];
    const entry = new Step((x) => x + 1, log, { name: 'plusOne' });
    const exit = new Step((x) => x * 10, log, { name: 'timesTen' }).from(entry);
    const numbers = new IntProducer(1, 5, { name: 'numbers' });
    const module = new TaskModuleNode<[number], number>(entry, exit, { name: 'module' }).from(numbers);
    const sink = new Collect({ name: 'sink' }).from(module);
    const flow = new Flow([numbers], [sink]);
    expect(flow.nodes.map((node) => node.name)).toEqual(['numbers', 'module', 'sink']);

    await flow.run(new InProcessEngine());
    const report = await flow.join();

    expect(report.status).toBe('completed');
    expect(sink.items).toEqual([20, 30, 40, 50, 60]);
    expect(log).toEqual(['open plusOne', 'open timesTen', 'close timesTen', 'close plusOne']);
    expect(report.nodes.find((node) => node.name === 'module')?.received).toBe(5);
  });

  it("applies each member's onError inside the module: a member that gives up ends the item there, one whose policy is 'fail' fails the flow", async () => {
    const calls: string[] = [];
    const entry = new Step((x) => x, [], { name: 'entry' });
    // 'skip' on odd values; the members after it see only what it let through.
    const picky = new Step(
      (x) => {
        if (x % 2 === 1) throw new Error(`odd ${x}`);
        return x;
      },
      [],
      { name: 'picky', onError: 'skip' },
    ).from(entry);
    const side = new Step((x) => x * 100, [], { name: 'side' }).from(entry);
    const exit = new Step(
      (x, y) => {
        calls.push(`exit ${x}`);
        if (x === 4) throw new Error('exit fails on 4');
        return x + y;
      },
      [],
      { name: 'exit' },
    ).from(picky, side);
    const numbers = new IntProducer(1, 6, { name: 'numbers' });
    const module = new TaskModuleNode<[number], number>(entry, exit, { name: 'module' }).from(numbers);
    const sink = new Collect({ name: 'sink' }).from(module);
    const flow = new Flow([numbers], [sink]);
    const logs = captureLogs('warn');
    let report: Awaited<ReturnType<Flow['join']>>;
    try {
      await flow.run(new InProcessEngine());
      report = await flow.join();
    } finally {
      logs.stop();
    }

    // 1 and 3 given up in picky (exit never ran on them), 2 through, 4 failed the flow in exit.
    expect(calls).toEqual(['exit 2', 'exit 4']);
    expect(sink.items).toEqual([202]);
    expect(report.status).toBe('failed');
    expect(report.error?.nodeName).toBe('module');
    expect(report.error?.message).toContain('exit fails on 4');
    expect(report.nodes.find((node) => node.name === 'module')).toMatchObject({ failed: 2, retried: 0 });
    expect(logs.records.filter((record) => record.msg.includes('"module/picky" gave up on item 0'))).toHaveLength(1);
  });

  it('keeps input order with several replicas', async () => {
    const entry = new Step(async (x) => {
      await new Promise((resolve) => setTimeout(resolve, (x * 7) % 3));
      return x;
    });
    const exit = new Step((x) => x + 100).from(entry);
    const numbers = new IntProducer(0, 19);
    const module = new TaskModuleNode(entry, exit, { nbTasks: 3 }).from(numbers);
    expect(module.nbTasks).toBe(3);
    const sink = new Collect().from(module);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine({ queueSize: 2 }));
    expect((await flow.join()).status).toBe('completed');
    expect(sink.items).toEqual(Array.from({ length: 20 }, (_, index) => index + 100));
  });

  it('accepts processors with typed inputs and infers the module types from entry and exit', async () => {
    class Parse extends ProcessorNode<[string], number> {
      process(text: string) {
        return Number(text);
      }
    }
    class Half extends ProcessorNode<[number], number> {
      process(value: number) {
        return value / 2;
      }
    }
    const entry = new Parse();
    const exit = new Half().from(entry);
    const module = new TaskModuleNode(entry, exit);
    expectTypeOf(module).toEqualTypeOf<TaskModuleNode<[string], number>>();
    expect(await module.process('8')).toBe(4);
  });

  it('runs members in topological order and feeds each its parents in wiring order', async () => {
    const entry = new Step((x) => x, [], { name: 'entry' });
    const double = new Step((x) => x * 2, [], { name: 'double' }).from(entry);
    const square = new Step((x) => x * x, [], { name: 'square' }).from(entry);
    const exit = new Step((a, b) => a - b, [], { name: 'exit' }).from(square, double);
    const module = new TaskModuleNode(entry, exit);
    expect(module.members.map((member) => member.name)).toEqual(['entry', 'double', 'square', 'exit']);
    expect(await module.process(5)).toBe(25 - 10);
    expect(module.entry).toBe(entry);
    expect(module.exit).toBe(exit);
  });

  it('closes every member even when one close() throws, and reports the first failure', async () => {
    const log: string[] = [];
    const entry = new Step((x) => x, log, { name: 'entry' });
    const exit = new Step((x) => x, log, { name: 'exit' }).from(entry);
    exit.close = async () => {
      throw new Error('exit close failed');
    };
    const module = new TaskModuleNode(entry, exit);
    await expect(module.close()).rejects.toThrow('exit close failed');
    expect(log).toEqual(['close entry']);
  });

  describe('construction errors', () => {
    it('rejects an entry that has parents', () => {
      const upstream = new IntProducer(0, 1);
      const entry = new Step((x) => x, [], { name: 'wiredEntry' }).from(upstream);
      const exit = new Step((x) => x, [], { name: 'exit' }).from(entry);
      expectCode(() => new TaskModuleNode(entry, exit), 'INVALID_WIRING', ['wiredEntry']);
    });

    it('rejects an exit not reachable from the entry', () => {
      const entry = new Step((x) => x, [], { name: 'entry' });
      new Step((x) => x, [], { name: 'other' }).from(entry);
      const exit = new Step((x) => x, [], { name: 'island' });
      expectCode(() => new TaskModuleNode(entry, exit), 'UNREACHABLE', ['island', 'entry']);
    });

    it("rejects a member with deviceType 'gpu'", () => {
      const entry = new Step((x) => x, [], { name: 'entry' });
      const middle = new Step((x) => x, [], { name: 'gpuMiddle', deviceType: 'gpu' }).from(entry);
      const exit = new Step((x) => x, [], { name: 'exit' }).from(middle);
      expectCode(() => new TaskModuleNode(entry, exit), 'INVALID_OPTION', ['gpuMiddle']);
    });

    it('rejects a consumer inside the module', () => {
      const entry = new Step((x) => x, [], { name: 'entry' });
      const exit = new Step((x) => x, [], { name: 'exit' }).from(entry);
      new Collect({ name: 'innerSink' }).from(entry);
      expectCode(() => new TaskModuleNode(entry, exit), 'INVALID_WIRING', ['innerSink']);
    });

    it('rejects a member whose parent is outside the module', () => {
      const entry = new Step((x) => x, [], { name: 'entry' });
      const outsider = new Step((x) => x, [], { name: 'outsider' });
      const exit = new Step((a, b) => a + b, [], { name: 'exit' }).from(entry, outsider);
      expectCode(() => new TaskModuleNode(entry, exit), 'INVALID_WIRING', ['exit', 'outsider']);
    });

    it('rejects an exit that has children, and a member that leads nowhere', () => {
      const entry = new Step((x) => x, [], { name: 'entry' });
      const exit = new Step((x) => x, [], { name: 'exit' }).from(entry);
      new Step((x) => x, [], { name: 'after' }).from(exit);
      expectCode(() => new TaskModuleNode(entry, exit), 'INVALID_WIRING', ['exit']);

      const entry2 = new Step((x) => x, [], { name: 'entry2' });
      const exit2 = new Step((x) => x, [], { name: 'exit2' }).from(entry2);
      new Step((x) => x, [], { name: 'deadEnd' }).from(entry2);
      expectCode(() => new TaskModuleNode(entry2, exit2), 'INVALID_WIRING', ['deadEnd']);
    });

    it('names its unnamed members per class, as a flow names its nodes, and rejects two members of one name', () => {
      const entry = new Step((x) => x);
      const middle = new Step((x) => x).from(entry);
      const exit = new Step((x) => x, [], { name: 'Step_1' }).from(middle);
      new TaskModuleNode(entry, exit);
      // Step_1 is taken by the explicit name: the unnamed ones count on past it.
      expect([entry.name, middle.name, exit.name]).toEqual(['Step_2', 'Step_3', 'Step_1']);

      const first = new Step((x) => x, [], { name: 'twin' });
      const second = new Step((x) => x, [], { name: 'twin' }).from(first);
      expectCode(() => new TaskModuleNode(first, second, { name: 'mod' }), 'DUPLICATE_NAME', ['mod', 'twin']);
    });

    it('rejects an invalid nbTasks', () => {
      const entry = new Step((x) => x);
      const exit = new Step((x) => x).from(entry);
      expectCode(() => new TaskModuleNode(entry, exit, { name: 'mod', nbTasks: 0 }), 'INVALID_OPTION', ['mod']);
    });
  });

  it("warns that a member's own nbTasks is ignored, naming the member and where to set it", async () => {
    const entry = new Step((x) => x, [], { name: 'resize', nbTasks: 4 });
    const exit = new Step((x) => x, [], { name: 'exit' }).from(entry);
    let nbTasks: number | undefined;
    const warning = await nbTasksWarning(() => {
      nbTasks = new TaskModuleNode(entry, exit, { name: 'prep', nbTasks: 2 }).nbTasks;
    });
    expect(nbTasks).toBe(2);
    expect(warning?.message).toContain('"prep"');
    expect(warning?.message).toContain('"resize" asks for nbTasks 4');
  });

  it('a module holding a one-task processor runs as one task, with a warning', async () => {
    const entry = new RunningSum({ name: 'sum' });
    const exit = new Step((x) => x, [], { name: 'exit' }).from(entry);
    let nbTasks: number | undefined;
    const warning = await nbTasksWarning(() => {
      nbTasks = new TaskModuleNode(entry, exit, { name: 'stateful', nbTasks: 3 }).nbTasks;
    });
    expect(nbTasks).toBe(1);
    expect(warning?.message).toContain('"stateful"');

    const plainEntry = new Step((x) => x);
    const plainExit = new Step((x) => x).from(plainEntry);
    let plainNbTasks: number | undefined;
    expect(
      await nbTasksWarning(() => {
        plainNbTasks = new TaskModuleNode(plainEntry, plainExit, { nbTasks: 3 }).nbTasks;
      }),
    ).toBeUndefined();
    expect(plainNbTasks).toBe(3);
  });
});
