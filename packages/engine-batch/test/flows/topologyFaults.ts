import { appendFileSync } from 'node:fs';
import { defineFlow, Flow, type Node, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';

/** Records `name pid` on open, so a test can SIGKILL one replica of a chosen node mid-run. */
abstract class Recorded<TIn extends unknown[]> extends ProcessorNode<TIn, number> {
  constructor(
    private readonly pidFile: string,
    name: string,
    nbTasks: number,
  ) {
    super({ name, nbTasks });
  }

  override open(): void {
    appendFileSync(this.pidFile, `${this.name} ${process.pid}\n`);
  }
}

/** `value * factor + offset`, after a short wait so that replicas overlap. */
class Worker extends Recorded<[number]> {
  factor = 1;
  offset = 0;

  async process(value: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return value * this.factor + this.offset;
  }
}

/** Joins `2x` and `x + 1000` back into `x`; throws on inputs of different origins. */
class Unpair extends Recorded<[number, number]> {
  process(doubled: number, shifted: number): number {
    if (doubled / 2 !== shifted - 1000) throw new Error(`misaligned join: ${doubled} with ${shifted}`);
    return shifted - 1000;
  }
}

type Shape = 'chain' | 'replicatedJoin' | 'joinThenReplicas' | 'fanOut';

/**
 * The topology matrix of the conformance suite, with recorded replicas: every shape ends in `sink`
 * (written to `out`) with each item's origin, so 0..items-1 in order is the whole check.
 */
export default defineFlow((params: { shape: Shape; items: number; pidFile: string; out: string }) => {
  const worker = (name: string, nbTasks: number, parent: Node, factor = 1, offset = 0) => {
    const node = new Worker(params.pidFile, name, nbTasks);
    node.factor = factor;
    node.offset = offset;
    return node.from(parent as ProcessorNode<never, number>);
  };
  const unpair = (nbTasks: number, doubled: ProcessorNode<never, number>, shifted: ProcessorNode<never, number>) =>
    new Unpair(params.pidFile, 'unpair', nbTasks).from(doubled, shifted);
  const numbers = new IntProducer(0, params.items - 1, { name: 'numbers' });
  let last: ProcessorNode<never, number>;
  switch (params.shape) {
    case 'chain':
      last = worker('second', 3, worker('first', 2, numbers));
      break;
    case 'replicatedJoin':
      last = unpair(3, worker('double', 2, numbers, 2), worker('shift', 1, numbers, 1, 1000));
      break;
    case 'joinThenReplicas':
      last = worker('after', 3, unpair(2, worker('double', 1, numbers, 2), worker('shift', 2, numbers, 1, 1000)));
      break;
    case 'fanOut': {
      const first = worker('first', 2, numbers);
      last = unpair(1, worker('double', 3, first, 2), worker('shift', 2, first, 1, 1000));
      break;
    }
  }
  return new Flow([numbers], [new FileAppenderConsumer(params.out, { name: 'sink' }).from(last)]);
});
