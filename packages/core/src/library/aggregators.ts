import { OneTaskProcessorNode, type ProcessorOptions } from '../nodes/processorNode.js';

/**
 * Base of the running aggregators: each input updates the state and the current aggregate is
 * emitted. Stateful, so always one task (Videoflow's aggregators behave the same way).
 */
export abstract class AggregatorNode extends OneTaskProcessorNode<[number], number> {
  #state: number | undefined;

  constructor(options: ProcessorOptions = {}) {
    super(options);
  }

  /** Combines the running state with one value. */
  protected abstract combine(state: number, value: number): number;

  /** The aggregate before the first value is combined with it (default: the first value itself). */
  protected initial(value: number): number {
    return value;
  }

  process(value: number): number {
    this.#state = this.#state === undefined ? this.initial(value) : this.combine(this.#state, value);
    return this.#state;
  }

  override open(): void {
    this.#state = undefined;
  }
}

/** Running sum of its inputs. */
export class SumAggregator extends AggregatorNode {
  protected combine(state: number, value: number): number {
    return state + value;
  }
}

/** Running product of its inputs. */
export class MultiplicationAggregator extends AggregatorNode {
  protected combine(state: number, value: number): number {
    return state * value;
  }
}

/** Running count of its inputs (1, 2, 3, ...). */
export class CountAggregator extends AggregatorNode {
  protected override initial(): number {
    return 1;
  }

  protected combine(state: number): number {
    return state + 1;
  }
}

/** Running maximum of its inputs. */
export class MaxAggregator extends AggregatorNode {
  protected combine(state: number, value: number): number {
    return Math.max(state, value);
  }
}

/** Running minimum of its inputs. */
export class MinAggregator extends AggregatorNode {
  protected combine(state: number, value: number): number {
    return Math.min(state, value);
  }
}
