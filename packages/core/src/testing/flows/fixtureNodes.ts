/**
 * Nodes used by the conformance flows. Side effects go to files, so that the suite can check
 * them whatever process the task ran in.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { ConsumerNode, type ConsumerOptions, OneTaskProcessorNode, ProcessorNode, type ProcessorOptions, VfError } from '../../index.js';
import { FileAppenderConsumer, IntProducer } from '../../nodes.js';

/** Appends `name:taskIndex`-free marker lines: one line per close() call. */
function recordClose(log: string | undefined, name: string): void {
  if (log !== undefined) appendFileSync(log, `${name}\n`);
}

/** Identity that can wait a few ms (pseudo-random per item, deterministic), and records close(). */
export class DelayedIdentity extends ProcessorNode<[number], number> {
  constructor(
    private readonly maxDelayMs: number,
    private readonly closeLog: string | undefined,
    options: ProcessorOptions = {},
  ) {
    super(options);
  }

  async process(value: number): Promise<number> {
    if (this.maxDelayMs > 0) {
      // A cheap deterministic scramble, so replicas finish out of order.
      const delay = (((value * 7919) % 13) / 12) * this.maxDelayMs;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    return value;
  }

  override close(): void {
    recordClose(this.closeLog, this.name);
  }
}

/** Applies `value * factor + offset`. */
export class Affine extends ProcessorNode<[number], number> {
  constructor(
    private readonly factor: number,
    private readonly offset: number,
    options: ProcessorOptions = {},
  ) {
    super(options);
  }

  process(value: number): number {
    return value * this.factor + this.offset;
  }
}

/** Throws on the item equal to `failAt`. */
export class Exploder extends OneTaskProcessorNode<[number], number> {
  constructor(
    private readonly failAt: number,
    options: ProcessorOptions = {},
    /**
     * The error's shape: a plain Error; one whose message is a number; a VfError whose details JSON
     * cannot carry; Node's own error for a missing file, with a field of the node's added.
     */
    private readonly shape: 'error' | 'numericMessage' | 'oddDetails' | 'systemError' = 'error',
  ) {
    super(options);
  }

  process(value: number): number {
    // The first item at or past failAt: a realtime engine may have dropped failAt itself.
    if (value < this.failAt) return value;
    const message = `exploded on item ${value}`;
    if (this.shape === 'numericMessage') throw Object.assign(new Error(message), { message: value });
    if (this.shape === 'oddDetails') {
      const details: Record<string, unknown> = { item: value, big: 10n ** 20n };
      details.self = details;
      throw new VfError('EXPLODED', message, { details });
    }
    if (this.shape === 'systemError') {
      try {
        readFileSync(`/nonexistent-vf-exploder/${value}`);
      } catch (error) {
        throw Object.assign(error as Error, { item: value });
      }
    }
    throw new Error(message);
  }
}

/** IntProducer that records close(). */
export class LoggedIntProducer extends IntProducer {
  closeLog: string | undefined;

  override close(): void {
    recordClose(this.closeLog, this.name);
  }
}

/** FileAppenderConsumer that records close(). */
export class LoggedFileAppender extends FileAppenderConsumer<[unknown]> {
  closeLog: string | undefined;

  override async close(): Promise<void> {
    await super.close();
    recordClose(this.closeLog, this.name);
  }
}

/** Identity whose open() fails (a model file that is missing), and that records close(). */
export class FailingOpen extends DelayedIdentity {
  override open(): void {
    throw new Error('model file missing');
  }
}

/** Identity that sleeps `workMs` per item, or answers synchronously when `workMs` is 0; records close(). */
export class FixedDelayIdentity extends ProcessorNode<[number], number> {
  constructor(
    private readonly workMs: number,
    private readonly closeLog: string | undefined,
    options: ProcessorOptions = {},
  ) {
    super(options);
  }

  process(value: number): number | Promise<number> {
    if (this.workMs <= 0) return value;
    return new Promise((resolve) => setTimeout(() => resolve(value), this.workMs));
  }

  override close(): void {
    recordClose(this.closeLog, this.name);
  }
}

/** Appends one JSON line per item with a synchronous write: a consumer that never awaits. */
export class SyncFileAppender extends ConsumerNode<[number]> {
  closeLog: string | undefined;

  constructor(
    private readonly path: string,
    options: ConsumerOptions = {},
  ) {
    super(options);
  }

  consume(value: number): void {
    appendFileSync(this.path, `${JSON.stringify(value)}\n`);
  }

  override close(): void {
    recordClose(this.closeLog, this.name);
  }
}
