import { FlowValidationError } from '../errors.js';
import { type ProduceContext, ProducerNode, type ProducerOptions } from '../nodes/producerNode.js';

/**
 * Emits the integers `start, start + 1, ..., end` (end inclusive, like Videoflow's IntProducer).
 * Leave `end` out (or pass `Infinity`) for an endless stream; add `fps` to emit on a clock.
 *
 * @example
 * ```ts
 * new IntProducer(0, 40);                 // 41 numbers, as fast as consumed
 * new IntProducer(0, undefined, { fps: 30 }); // a counter that ticks like a camera
 * ```
 */
export class IntProducer extends ProducerNode<number> {
  readonly start: number;
  readonly end: number;

  constructor(start = 0, end: number = Number.POSITIVE_INFINITY, options: ProducerOptions = {}) {
    super(options);
    if (!Number.isSafeInteger(start)) {
      throw new FlowValidationError('INVALID_OPTION', `IntProducer: start must be a safe integer, got ${String(start)}`);
    }
    if (end !== Number.POSITIVE_INFINITY && !Number.isSafeInteger(end)) {
      throw new FlowValidationError('INVALID_OPTION', `IntProducer: end must be a safe integer or Infinity, got ${String(end)}`);
    }
    this.start = start;
    this.end = end;
  }

  *produce(_ctx: ProduceContext): Iterable<number> {
    for (let value = this.start; value <= this.end; value++) yield value;
  }
}
