import { type FileHandle, open } from 'node:fs/promises';
import { inspect } from 'node:util';
import { ConsumerNode, type ConsumerOptions } from '../nodes/consumerNode.js';

/** Options of {@link CommandlineConsumer}. */
export interface CommandlineConsumerOptions extends ConsumerOptions {
  /** Turns the inputs into the printed line. Default: `util.inspect` of each input, space-separated. */
  readonly format?: (...inputs: unknown[]) => string;
  /** Where lines go. Default `process.stdout`. */
  readonly output?: { write(chunk: string): unknown };
}

/** Prints every input on its own line. */
export class CommandlineConsumer<TIn extends unknown[] = unknown[]> extends ConsumerNode<TIn> {
  readonly #format: (...inputs: unknown[]) => string;
  readonly #output: { write(chunk: string): unknown };

  constructor(options: CommandlineConsumerOptions = {}) {
    super(options);
    this.#format =
      options.format ?? ((...inputs) => inputs.map((input) => inspect(input, { breakLength: Number.POSITIVE_INFINITY })).join(' '));
    this.#output = options.output ?? process.stdout;
  }

  consume(...inputs: TIn): void {
    this.#output.write(`${this.#format(...inputs)}\n`);
  }
}

/** Discards its inputs. Terminates a branch whose results are not needed (and measures it). */
export class VoidConsumer<TIn extends unknown[] = unknown[]> extends ConsumerNode<TIn> {
  consume(..._inputs: TIn): void {}
}

/** Options of {@link FileAppenderConsumer}. */
export interface FileAppenderOptions extends ConsumerOptions {
  /** Turns the inputs into one line. Default: JSON of the input (of the array of inputs if several). */
  readonly format?: (...inputs: unknown[]) => string;
}

/** Appends one line per input to a file (JSON lines by default). The file is opened in `open()`. */
export class FileAppenderConsumer<TIn extends unknown[] = unknown[]> extends ConsumerNode<TIn> {
  readonly path: string;
  readonly #format: (...inputs: unknown[]) => string;
  #file: FileHandle | undefined;

  constructor(path: string, options: FileAppenderOptions = {}) {
    super(options);
    this.path = path;
    this.#format = options.format ?? ((...inputs) => JSON.stringify(inputs.length === 1 ? inputs[0] : inputs));
  }

  override async open(): Promise<void> {
    this.#file = await open(this.path, 'a');
  }

  async consume(...inputs: TIn): Promise<void> {
    if (this.#file === undefined) throw new Error(`FileAppenderConsumer "${this.name}": file ${this.path} is not open`);
    await this.#file.appendFile(`${this.#format(...inputs)}\n`);
  }

  override async close(): Promise<void> {
    await this.#file?.close();
    this.#file = undefined;
  }
}
