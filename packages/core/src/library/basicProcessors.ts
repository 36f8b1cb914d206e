import { ProcessorNode } from '../nodes/processorNode.js';

/** Passes its input through unchanged. Handy as a placeholder and for measuring transport. */
export class IdentityProcessor<T = unknown> extends ProcessorNode<[T], T> {
  process(value: T): T {
    return value;
  }
}

/** Joins the outputs of all its parents (aligned by origin) into one array, in wiring order. */
export class JoinerProcessor<TIn extends unknown[] = unknown[]> extends ProcessorNode<TIn, TIn> {
  process(...inputs: TIn): TIn {
    return inputs;
  }
}
