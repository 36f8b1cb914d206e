import { defineFlow, Flow, type OnError, ProcessorNode, type ProcessorOptions, TaskModuleNode } from '../../index.js';
import { FileAppenderConsumer, type FileAppenderOptions, IntProducer } from '../../nodes.js';
import { Affine } from './fixtureNodes.js';

/** How the faulty node fails: on every 100th item (`value % 100 === 99`), or once on every item (flaky). */
export type Fault = 'every100' | 'flaky';

/** The error a corrupt item raises: a code and a cause, so that dead letters show they keep both. */
function corrupt(value: number): Error {
  return Object.assign(new Error(`corrupt item ${value}`, { cause: new Error('checksum mismatch') }), { code: 'CORRUPT_ITEM' });
}

/** Identity that throws as `fault` says. The flaky one remembers what it failed on (per task). */
class Faulty extends ProcessorNode<[number], number> {
  readonly #failedOnce = new Set<number>();

  constructor(
    private readonly fault: Fault,
    options: ProcessorOptions = {},
  ) {
    super(options);
  }

  process(value: number): number {
    if (this.fault === 'every100' && value % 100 === 99) throw corrupt(value);
    if (this.fault === 'flaky' && !this.#failedOnce.has(value)) {
      this.#failedOnce.add(value);
      throw new Error(`flaky on ${value}`);
    }
    return value;
  }
}

/** Joins `x` and `x + 1000` back into `x`; throws when they are not of one origin (a misaligned join fails the flow). */
class Unpair extends ProcessorNode<[number, number], number> {
  process(value: number, shifted: number): number {
    if (value !== shifted - 1000) throw new Error(`misaligned join: ${value} with ${shifted}`);
    return value;
  }
}

/** A file appender that throws on every 100th item. */
class FaultyAppender extends FileAppenderConsumer<[number]> {
  constructor(path: string, options: FileAppenderOptions = {}) {
    super(path, options);
  }

  override async consume(value: number): Promise<void> {
    if (value % 100 === 99) throw corrupt(value);
    await super.consume(value);
  }
}

/**
 * The `onError` flows. Every shape starts with `numbers` (0..end) and ends in `sink` (written to `out`):
 * - `linear`: numbers → faulty (`nbTasks`) → sink.
 * - `join`: numbers → faulty (`nbTasks`) and shift (`x + 1000`, 2 tasks) → unpair (`joinTasks`) → sink:
 *   the join must drop shift's outputs of the origins faulty gave up on.
 * - `consumer`: numbers → a sink that throws on every 100th item.
 * - `module`: numbers → a task module (`nbTasks`) of up (`x + 1000`) → faulty (`onError`) → down
 *   (`x - 1000`) → sink: the member's own policy applies inside the module.
 */
export default defineFlow(
  (params: {
    shape: 'linear' | 'join' | 'consumer' | 'module';
    fault?: Fault;
    onError: OnError;
    end: number;
    out: string;
    nbTasks?: number;
    joinTasks?: number;
  }) => {
    const numbers = new IntProducer(0, params.end, { name: 'numbers' });
    if (params.shape === 'consumer') {
      const sink = new FaultyAppender(params.out, { name: 'sink', onError: params.onError }).from(numbers);
      return new Flow([numbers], [sink]);
    }
    if (params.shape === 'module') {
      const up = new Affine(1, 1000, { name: 'up' });
      const member = new Faulty(params.fault ?? 'every100', { name: 'faulty', onError: params.onError }).from(up);
      const down = new Affine(1, -1000, { name: 'down' }).from(member);
      const module = new TaskModuleNode(up, down, { name: 'module', nbTasks: params.nbTasks ?? 1 }).from(numbers);
      return new Flow([numbers], [new FileAppenderConsumer(params.out, { name: 'sink' }).from(module)]);
    }
    const faulty = new Faulty(params.fault ?? 'every100', { name: 'faulty', nbTasks: params.nbTasks ?? 1, onError: params.onError }).from(
      numbers,
    );
    if (params.shape === 'linear') return new Flow([numbers], [new FileAppenderConsumer(params.out, { name: 'sink' }).from(faulty)]);
    const shift = new Affine(1, 1000, { name: 'shift', nbTasks: 2 }).from(numbers);
    const unpair = new Unpair({ name: 'unpair', nbTasks: params.joinTasks ?? 1 }).from(faulty, shift);
    return new Flow([numbers], [new FileAppenderConsumer(params.out, { name: 'sink' }).from(unpair)]);
  },
);
