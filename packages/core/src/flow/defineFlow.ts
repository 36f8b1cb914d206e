import type { Flow } from './flow.js';

const FLOW_DEFINITION = Symbol.for('vf.flowDefinition');

/** JSON-serialisable values: what flow params may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A flow factory marked by {@link defineFlow}; the default export of a flow module. */
export interface FlowDefinition<TParams = unknown> {
  readonly [FLOW_DEFINITION]: true;
  /** Builds the flow. Must be deterministic: the parent and every task process call it with the same params. */
  readonly create: (params: TParams) => Flow | Promise<Flow>;
}

/**
 * Declares a flow module's factory. Tasks run in separate processes, so each one rebuilds the graph
 * by calling this factory with the same JSON params; construction must be deterministic.
 *
 * @example
 * ```ts
 * // flows/count.ts
 * export default defineFlow((params: { end: number }) => {
 *   const numbers = new IntProducer(0, params.end);
 *   const printer = new CommandlineConsumer().from(numbers);
 *   return new Flow([numbers], [printer]);
 * });
 * ```
 */
export function defineFlow<TParams = unknown>(create: (params: TParams) => Flow | Promise<Flow>): FlowDefinition<TParams> {
  if (typeof create !== 'function') throw new TypeError('defineFlow expects a factory function');
  return Object.freeze({ [FLOW_DEFINITION]: true as const, create });
}

/** True for values made by {@link defineFlow}, also across copies of vf. */
export function isFlowDefinition(value: unknown): value is FlowDefinition<unknown> {
  return typeof value === 'object' && value !== null && (value as Record<PropertyKey, unknown>)[FLOW_DEFINITION] === true;
}

/** Returns the path to the first value in `value` that JSON would not carry faithfully, if any. */
export function findNonJson(value: unknown, path = 'params'): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findNonJson(item, `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return path;
    for (const [key, item] of Object.entries(value)) {
      const found = findNonJson(item, `${path}.${key}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return path;
}
