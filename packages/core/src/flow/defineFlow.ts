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

/**
 * How deeply flow params may nest: they travel to every task as JSON, and V8's `JSON.stringify`
 * overflows its stack a few thousand levels down.
 */
export const MAX_PARAMS_DEPTH = 1000;

/** Where params stop being JSON, and why (see {@link findNonJson}). */
export interface NonJson {
  /** e.g. `params.video.owner`. */
  readonly path: string;
  /** e.g. `is circular (it contains itself)`. */
  readonly problem: string;
}

/**
 * The first value in `value` that JSON would not carry faithfully, if any: not a JSON type, a cycle,
 * or nesting deeper than {@link MAX_PARAMS_DEPTH}. A value referenced twice without a cycle is fine
 * (JSON copies it).
 */
export function findNonJson(value: unknown, path = 'params', enclosing = new Set<object>()): NonJson | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path, problem: 'is not a finite number' };
  if (typeof value !== 'object') return { path, problem: `is a ${typeof value}` };
  if (enclosing.has(value)) return { path, problem: 'is circular (it contains itself)' };
  if (enclosing.size >= MAX_PARAMS_DEPTH) return { path, problem: `is nested deeper than ${MAX_PARAMS_DEPTH} levels` };
  const prototype = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) {
    return { path, problem: `is a ${(value as object).constructor?.name ?? 'non-plain object'}, not a plain object` };
  }
  enclosing.add(value);
  try {
    const entries = Array.isArray(value)
      ? value.map((item, index) => [`${path}[${index}]`, item] as const)
      : Object.entries(value).map(([key, item]) => [`${path}.${key}`, item] as const);
    for (const [itemPath, item] of entries) {
      const found = findNonJson(item, itemPath, enclosing);
      if (found !== undefined) return found;
    }
    return undefined;
  } finally {
    enclosing.delete(value);
  }
}
