import { describe, expect, it } from 'vitest';
import { FlowValidationError, isVfError } from '../errors.js';
import { Flow } from '../flow/flow.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { ConsumerNode, type ConsumerOptions } from '../nodes/consumerNode.js';
import { ProcessorNode, type ProcessorOptions } from '../nodes/processorNode.js';
import { ProducerNode, type ProducerOptions } from '../nodes/producerNode.js';
import { validateGraph } from './validateGraph.js';

class Numbers extends ProducerNode<number> {
  *produce() {
    yield 1;
  }
}

class Double extends ProcessorNode<[number], number> {
  process(value: number) {
    return value * 2;
  }
}

class Add extends ProcessorNode<[number, number], number> {
  process(a: number, b: number) {
    return a + b;
  }
}

class Sink extends ConsumerNode<unknown[]> {
  consume() {}
}

/** Runs `action`, expects a FlowValidationError with `code` whose message quotes every name in `names`. */
function expectFlowError(action: () => unknown, code: string, names: readonly string[] = []): FlowValidationError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a FlowValidationError ${code}`).toBeInstanceOf(FlowValidationError);
  expect(isVfError(caught)).toBe(true);
  const error = caught as FlowValidationError;
  expect(error.code).toBe(code);
  expect(error.name).toBe('FlowValidationError');
  for (const name of names) expect(error.message).toContain(`"${name}"`);
  return error;
}

describe('new Flow(...) graph validation', () => {
  it('accepts a valid linear graph and returns its nodes in topological order', () => {
    const numbers = new Numbers({ name: 'numbers' });
    const double = new Double({ name: 'double' }).from(numbers);
    const sink = new Sink({ name: 'sink' }).from(double);
    const flow = new Flow([numbers], [sink]);
    expect(flow.nodes.map((node) => node.name)).toEqual(['numbers', 'double', 'sink']);
    expect(flow.graph.producers).toEqual([numbers]);
    expect(flow.graph.consumers).toEqual([sink]);
  });

  describe('CYCLE', () => {
    it('rejects a cycle between processors reachable from a producer, naming them', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const a = new Add({ name: 'a' });
      const b = new Double({ name: 'b' });
      a.from(numbers, b);
      b.from(a);
      const sink = new Sink({ name: 'sink' }).from(b);
      const error = expectFlowError(() => new Flow([numbers], [sink]), 'CYCLE', ['a', 'b']);
      expect(error.details.nodes).toEqual(expect.arrayContaining(['a', 'b']));
      expect(error.details.nodes).not.toContain('numbers');
    });

    it('rejects a node wired to itself when it is wired', () => {
      const a = new Double({ name: 'selfish' });
      expectFlowError(() => a.from(a), 'CYCLE', ['selfish']);
    });

    it('validateGraph reports the same cycle as new Flow', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const a = new Add({ name: 'a' });
      const b = new Double({ name: 'b' }).from(a);
      a.from(numbers, b);
      const sink = new Sink({ name: 'sink' }).from(a);
      expectFlowError(() => validateGraph([numbers], [sink]), 'CYCLE', ['a', 'b']);
    });
  });

  describe('UNREACHABLE', () => {
    it('rejects a consumer that no producer reaches', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const reached = new Sink({ name: 'reached' }).from(numbers);
      const orphan = new Double({ name: 'orphan' });
      const lost = new Sink({ name: 'lost' }).from(orphan);
      const error = expectFlowError(() => new Flow([numbers], [reached, lost]), 'UNREACHABLE', ['lost']);
      expect(error.message).not.toContain('"reached"');
      expect(error.details.nodes).toEqual(['lost']);
    });

    it('rejects a processor with no parents that feeds a consumer, naming it and its child', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const floating = new Double({ name: 'floating' });
      const sink = new Sink({ name: 'sink' }).from(numbers, floating);
      const error = expectFlowError(() => new Flow([numbers], [sink]), 'UNREACHABLE', ['floating', 'sink']);
      expect(error.details.nodes).toEqual(['floating']);
    });
  });

  describe('NO_PRODUCER and NO_CONSUMER', () => {
    it('rejects an empty producer list', () => {
      const sink = new Sink({ name: 'sink' });
      expectFlowError(() => new Flow([], [sink]), 'NO_PRODUCER');
    });

    it('rejects a non-producer in the producer list, naming it', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const double = new Double({ name: 'impostor' }).from(numbers);
      const sink = new Sink({ name: 'sink' }).from(double);
      const error = expectFlowError(() => new Flow([numbers, double as unknown as ProducerNode], [sink]), 'NO_PRODUCER', ['impostor']);
      expect(error.message).toContain('processor');
    });

    it('rejects an empty consumer list', () => {
      const numbers = new Numbers({ name: 'numbers' });
      expectFlowError(() => new Flow([numbers], []), 'NO_CONSUMER');
    });

    it('rejects a non-consumer in the consumer list, naming it', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const double = new Double({ name: 'notASink' }).from(numbers);
      expectFlowError(() => new Flow([numbers], [double as unknown as ConsumerNode]), 'INVALID_WIRING', ['notASink']);
    });
  });

  describe('WIRED_TWICE', () => {
    it('rejects a second .from() and names the node and its existing parents', () => {
      const first = new Numbers({ name: 'first' });
      const second = new Numbers({ name: 'second' });
      const double = new Double({ name: 'double' }).from(first);
      const error = expectFlowError(() => double.from(second), 'WIRED_TWICE', ['double', 'first']);
      expect(error.details.parents).toEqual(['first']);
      // The rejected wiring changed nothing.
      expect(double.parents).toEqual([first]);
      expect(second.children).toEqual([]);
    });

    it('a .from() rejected for another reason leaves the node unwired', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const add = new Add({ name: 'add' });
      expectFlowError(() => add.from(numbers, numbers), 'INVALID_WIRING', ['add', 'numbers']);
      expect(add.parents).toEqual([]);
      expect(numbers.children).toEqual([]);
      const other = new Numbers({ name: 'other' });
      expect(add.from(numbers, other)).toBe(add);
      expect(add.parents).toEqual([numbers, other]);
    });
  });

  describe('DUPLICATE_NAME', () => {
    it('rejects two nodes with the same explicit name, naming it', () => {
      const numbers = new Numbers({ name: 'twin' });
      const double = new Double({ name: 'twin' }).from(numbers);
      const sink = new Sink({ name: 'sink' }).from(double);
      const error = expectFlowError(() => new Flow([numbers], [sink]), 'DUPLICATE_NAME', ['twin']);
      expect(error.details.name).toBe('twin');
    });
  });

  describe('INVALID_OPTION', () => {
    it.each([0, 1.5, -1, 'x', Number.NaN, Number.POSITIVE_INFINITY])('rejects nbTasks %s at construction', (nbTasks) => {
      const options = { name: 'bad', nbTasks } as unknown as ProcessorOptions;
      const error = expectFlowError(() => new Double(options), 'INVALID_OPTION', ['bad']);
      expect(error.message).toContain('nbTasks');
      expect(error.details.option).toBe('nbTasks');
    });

    it('accepts nbTasks 1 and 3', () => {
      expect(new Double({ nbTasks: 1 }).nbTasks).toBe(1);
      expect(new Double({ nbTasks: 3 }).nbTasks).toBe(3);
    });

    it("rejects deviceType 'tpu'", () => {
      const options = { name: 'tensor', deviceType: 'tpu' } as unknown as ProcessorOptions;
      const error = expectFlowError(() => new Double(options), 'INVALID_OPTION', ['tensor']);
      expect(error.message).toContain('tpu');
    });

    it.each([0, -5, Number.NaN, Number.POSITIVE_INFINITY])('rejects fps %s on a producer', (fps) => {
      const error = expectFlowError(() => new Numbers({ name: 'camera', fps }), 'INVALID_OPTION', ['camera']);
      expect(error.message).toContain('fps');
    });

    it('accepts a positive fps', () => {
      expect(new Numbers({ fps: 0.5 }).fps).toBe(0.5);
    });

    it('rejects an empty name', () => {
      expectFlowError(() => new Double({ name: ' ' }), 'INVALID_OPTION');
    });
  });

  describe('NOT_REPLICABLE', () => {
    it('rejects a producer given nbTasks 2', () => {
      const options = { name: 'source', nbTasks: 2 } as unknown as ProducerOptions;
      expectFlowError(() => new Numbers(options), 'NOT_REPLICABLE', ['source']);
    });

    it('rejects a consumer given nbTasks 2', () => {
      const options = { name: 'drain', nbTasks: 2 } as unknown as ConsumerOptions;
      expectFlowError(() => new Sink(options), 'NOT_REPLICABLE', ['drain']);
    });

    it('accepts nbTasks 1 on producers and consumers', () => {
      expect(new Numbers({ nbTasks: 1 } as unknown as ProducerOptions).nbTasks).toBe(1);
      expect(new Sink({ nbTasks: 1 } as unknown as ConsumerOptions).nbTasks).toBe(1);
    });
  });

  describe('INVALID_WIRING', () => {
    it('rejects wiring a producer', () => {
      const upstream = new Numbers({ name: 'upstream' });
      const numbers = new Numbers({ name: 'numbers' });
      expectFlowError(() => numbers.from(upstream), 'INVALID_WIRING', ['numbers']);
      expect(numbers.parents).toEqual([]);
    });

    it('rejects wiring from a consumer', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const sink = new Sink({ name: 'sink' }).from(numbers);
      const double = new Double({ name: 'double' });
      expectFlowError(() => double.from(sink), 'INVALID_WIRING', ['sink', 'double']);
      expect(sink.children).toEqual([]);
    });

    it('rejects the same parent twice', () => {
      const numbers = new Numbers({ name: 'numbers' });
      expectFlowError(() => new Add({ name: 'add' }).from(numbers, numbers), 'INVALID_WIRING', ['add', 'numbers']);
    });

    it('rejects .from() without parents and with a non-node parent', () => {
      expectFlowError(() => new Double({ name: 'lonely' }).from(), 'INVALID_WIRING', ['lonely']);
      expectFlowError(() => new Double({ name: 'odd' }).from({} as unknown as Numbers), 'INVALID_WIRING', ['odd']);
    });

    it('rejects a producer listed twice', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const sink = new Sink({ name: 'sink' }).from(numbers);
      expectFlowError(() => new Flow([numbers, numbers], [sink]), 'INVALID_WIRING', ['numbers']);
    });
  });

  describe('UNLISTED_NODE', () => {
    it('rejects an unlisted producer that feeds a node, naming both', () => {
      const listed = new Numbers({ name: 'listed' });
      const hidden = new Numbers({ name: 'hidden' });
      const add = new Add({ name: 'add' }).from(listed, hidden);
      const sink = new Sink({ name: 'sink' }).from(add);
      const error = expectFlowError(() => new Flow([listed], [sink]), 'UNLISTED_NODE', ['hidden', 'add']);
      expect(error.details.nodes).toEqual(['hidden']);
    });

    it('rejects a consumer that is wired but not listed', () => {
      const numbers = new Numbers({ name: 'numbers' });
      const listed = new Sink({ name: 'listed' }).from(numbers);
      const forgotten = new Sink({ name: 'forgotten' }).from(numbers);
      const error = expectFlowError(() => new Flow([numbers], [listed]), 'UNLISTED_NODE', ['forgotten']);
      expect(error.message).not.toContain('"listed"');
      expect(error.details.nodes).toEqual([forgotten.name]);
    });
  });
});

describe('automatic names', () => {
  /** numbers → a → c → s1, numbers → b (named Double_2) → s2 */
  function build(): Flow {
    const numbers = new Numbers();
    const a = new Double().from(numbers);
    const b = new Double({ name: 'Double_2' }).from(numbers);
    const c = new Double().from(a);
    const s1 = new Sink().from(c);
    const s2 = new Sink().from(b);
    return new Flow([numbers], [s1, s2]);
  }

  it('unnamed nodes get ClassName_n per class, in topological order, skipping names taken explicitly', () => {
    const flow = build();
    const [numbers, a, b, c, s2, s1] = flow.nodes;
    expect(flow.nodes.map((node) => node.name)).toEqual(['Numbers_1', 'Double_1', 'Double_2', 'Double_3', 'Sink_1', 'Sink_2']);
    expect(numbers?.kind).toBe('producer');
    expect(a?.hasExplicitName).toBe(false);
    expect(b?.hasExplicitName).toBe(true);
    // c is a's child; s2 (child of b) comes before s1 (child of c) in topological order.
    expect(c?.parents).toEqual([a]);
    expect(s2?.parents).toEqual([b]);
    expect(s1?.parents).toEqual([c]);
  });

  it('an explicit name of another class is skipped too', () => {
    const numbers = new Numbers({ name: 'Double_1' });
    const a = new Double().from(numbers);
    const b = new Double().from(a);
    const sink = new Sink().from(b);
    const flow = new Flow([numbers], [sink]);
    expect(flow.nodes.map((node) => node.name)).toEqual(['Double_1', 'Double_2', 'Double_3', 'Sink_1']);
  });

  it('the same graph built twice gets the same names in the same order', () => {
    const first = build().nodes.map((node) => `${node.name}:${node.kind}:${node.parents.map((parent) => parent.name).join('+')}`);
    const second = build().nodes.map((node) => `${node.name}:${node.kind}:${node.parents.map((parent) => parent.name).join('+')}`);
    expect(second).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
  });

  it('an unnamed node is called by its class name before its flow names it', () => {
    const numbers = new Numbers();
    expect(numbers.name).toBe('Numbers');
    const sink = new Sink().from(numbers);
    new Flow([numbers], [sink]);
    expect(numbers.name).toBe('Numbers_1');
    expect(sink.toString()).toBe('Sink_1 (consumer)');
  });
});

describe('a node belongs to one flow at a time', () => {
  it('a child wired onto a node of a built flow is refused (it used to break that flow at run time)', async () => {
    const numbers = new Numbers({ name: 'numbers' });
    const first = new Flow([numbers], [new Sink({ name: 'first' }).from(numbers)]);
    const error = expectFlowError(() => new Sink({ name: 'second' }).from(numbers), 'IN_ANOTHER_FLOW', ['numbers', 'second']);
    expect(error.details).toMatchObject({ node: 'second', parent: 'numbers' });
    await first.run(new InProcessEngine());
    expect((await first.join()).status).toBe('completed');
  });

  it('the nodes of a built flow are refused when a second flow is built from them', () => {
    const numbers = new Numbers();
    const sink = new Sink().from(new Double().from(numbers));
    new Flow([numbers], [sink]);
    const error = expectFlowError(() => new Flow([numbers], [sink]), 'IN_ANOTHER_FLOW', ['Numbers_1', 'Double_1', 'Sink_1']);
    expect(error.details.nodes).toEqual(['Numbers_1', 'Double_1', 'Sink_1']);
    expect(error.message).toContain('build the second flow from new nodes');
  });

  it('once its flow has finished, a node may go into a new flow', async () => {
    const numbers = new Numbers({ name: 'numbers' });
    const sink = new Sink({ name: 'sink' }).from(numbers);
    const first = new Flow([numbers], [sink]);
    await first.run(new InProcessEngine());
    await first.join();
    const again = new Flow([numbers], [sink]);
    await again.run(new InProcessEngine());
    expect((await again.join()).status).toBe('completed');
  });

  it('validateGraph alone claims no node', () => {
    const numbers = new Numbers();
    const sink = new Sink().from(numbers);
    validateGraph([numbers], [sink]);
    expect(new Flow([numbers], [sink]).nodes).toHaveLength(2);
  });
});
