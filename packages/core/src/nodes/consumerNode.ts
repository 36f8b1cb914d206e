import { type ErrorPolicy, type OnError, resolveOnError } from './errorPolicy.js';
import { type TimeJoinOptions, validateJoinOptions } from './joinOptions.js';
import { Node, type NodeOptions, rejectReplicas } from './node.js';

/** Options of a {@link ConsumerNode}. */
export interface ConsumerOptions extends NodeOptions {
  /** Receive each parent's message metadata instead of its output. Default false. */
  readonly metadata?: boolean;
  /** What a throwing `consume()` does to the flow. Default `'fail'`. See {@link OnError}. */
  readonly onError?: OnError;
  /** Group the parents by event time instead of by origin (see {@link TimeJoinOptions}). */
  readonly join?: TimeJoinOptions;
}

/**
 * A sink: receives one positional input per parent, produces nothing. Never replicated.
 *
 * @example
 * ```ts
 * class Print extends ConsumerNode<[number]> {
 *   consume(value: number) { console.log(value); }
 * }
 * ```
 */
export abstract class ConsumerNode<TIn extends unknown[] = unknown[]> extends Node {
  readonly kind = 'consumer' as const;
  /** When true, `consume` receives message metadata (one object per parent) instead of values. */
  readonly wantsMetadata: boolean;
  /** @internal The resolved `onError` option, applied by the task runtime. */
  readonly errorPolicy: ErrorPolicy;

  constructor(options: ConsumerOptions = {}) {
    super(options);
    rejectReplicas((options as { nbTasks?: unknown }).nbTasks, `consumer "${options.name ?? new.target.name}"`);
    this.wantsMetadata = options.metadata === true;
    this.errorPolicy = resolveOnError(options.onError, `consumer "${options.name ?? new.target.name}"`);
    this.setTimeJoin(validateJoinOptions(options.join, options.name ?? new.target.name, 1));
  }

  /** Handles one aligned set of inputs. */
  abstract consume(...inputs: TIn): void | Promise<void>;
}
