import { FlowValidationError } from '../errors.js';
import { checkNodeOptions } from './node.js';
import { ProcessorNode, type ProcessorOptions } from './processorNode.js';

/**
 * A processor made from a function (Videoflow's `FunctionProcessorNode`): `fn` receives one
 * positional input per parent, in wiring order, and returns the output or a promise of it. It
 * takes the usual processor options (`name`, `nbTasks`, `deviceType`, `gpuMemoryMb`).
 *
 * The function is called as a plain function, with no `this`. Keep it free of state carried
 * between items: replicas (`nbTasks`) each get their own copy in their own process, and
 * multi-process engines rebuild it there from the flow module, so it must be created by the flow
 * module's factory (a closure over params is fine). For open/close hooks or state, subclass
 * {@link ProcessorNode} or `OneTaskProcessorNode` instead.
 *
 * @example
 * ```ts
 * const doubled = new FunctionProcessorNode((value: number) => value * 2, { name: 'double' }).from(numbers);
 * const fetched = new FunctionProcessorNode(async (url: string) => (await fetch(url)).status, { nbTasks: 4 }).from(urls);
 * ```
 */
export class FunctionProcessorNode<TIn extends unknown[] = unknown[], TOut = unknown> extends ProcessorNode<TIn, TOut> {
  /** The function applied to every input set. */
  readonly fn: (...inputs: TIn) => TOut | Promise<TOut>;

  constructor(fn: (...inputs: TIn) => TOut | Promise<TOut>, options: ProcessorOptions = {}) {
    checkNodeOptions(options, new.target.name);
    if (typeof fn !== 'function') {
      throw new FlowValidationError(
        'INVALID_OPTION',
        `processor "${options.name ?? new.target.name}": FunctionProcessorNode takes a function of its inputs, got ${typeof fn}`,
        { details: { option: 'fn', value: typeof fn } },
      );
    }
    super(options);
    this.fn = fn;
  }

  process(...inputs: TIn): TOut | Promise<TOut> {
    const fn = this.fn;
    return fn(...inputs);
  }
}
