import { FlowValidationError } from '../errors.js';
import { rejectOnError } from './errorPolicy.js';
import { Node, type NodeOptions, rejectReplicas } from './node.js';
import type { Timestamped } from './timestamped.js';

/** Options of a {@link ProducerNode}. */
export interface ProducerOptions extends NodeOptions {
  /**
   * Emit on a clock at this many items per second, as a camera does. The runtime paces the
   * emission, so the pause does not count as processing time. Default: as fast as consumed.
   */
  readonly fps?: number;
}

/** What the runtime hands to {@link ProducerNode.produce}. */
export interface ProduceContext {
  /** Aborted when the flow is stopped or fails: pass it to long waits (sockets, timers, fetches). */
  readonly signal: AbortSignal;
  /** Index of the task running this producer (always 0: producers are never replicated). */
  readonly taskIndex: number;
}

/**
 * A source of items. The end of the iterable returned by {@link produce} is the end of the stream.
 *
 * @example
 * ```ts
 * class Counter extends ProducerNode<number> {
 *   *produce() { for (let i = 0; i < 10; i++) yield i; }
 * }
 * ```
 */
export abstract class ProducerNode<TOut = unknown> extends Node {
  readonly kind = 'producer' as const;
  /** Pacing in items per second, or undefined for "as fast as the flow consumes". */
  readonly fps: number | undefined;
  /** @internal Carries the output type for inference. */
  declare readonly __output?: TOut;

  constructor(options: ProducerOptions = {}) {
    super(options);
    const label = `producer "${options.name ?? new.target.name}"`;
    rejectReplicas((options as { nbTasks?: unknown }).nbTasks, label);
    rejectOnError((options as { onError?: unknown }).onError, label);
    if (options.fps !== undefined && (typeof options.fps !== 'number' || !(options.fps > 0) || !Number.isFinite(options.fps))) {
      throw new FlowValidationError('INVALID_OPTION', `${label}: fps must be a positive finite number, got ${String(options.fps)}`, {
        details: { option: 'fps', value: String(options.fps) },
      });
    }
    this.fps = options.fps;
  }

  /**
   * Returns the items of the stream. Called once per run, inside the producer's task. An item may be
   * stamped with its event time, `timestamped(item, ms)`, for time-synchronized joins.
   */
  abstract produce(ctx: ProduceContext): AsyncIterable<TOut | Timestamped<TOut>> | Iterable<TOut | Timestamped<TOut>>;
}
