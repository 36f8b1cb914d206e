/**
 * `@vf/core/testing`: the engine conformance suite every engine runs (vitest).
 * @packageDocumentation
 */
import type { ExecutionEngine } from './contracts/engine.js';
import { type ConformanceOptions, describeEngineConformanceWith, type EngineContract } from './testing/engineConformance.js';

export { captureLogs, type LogRecord } from './testing/captureLogs.js';
export { findLeftovers, type InspectableEngine, isProcessAlive } from './testing/leftovers.js';
export type { EngineContract };

/** Options of {@link describeEngineConformance}. */
export type EngineConformanceOptions = Omit<ConformanceOptions, 'fixturesUrl' | 'fixtureExtension'>;

// The fixture flow modules sit beside this entry, as `.ts` in the source and `.js` in the build.
const fixturesUrl = new URL('./testing/flows/', import.meta.url);
const fixtureExtension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/**
 * Registers the conformance suite for an engine: linear order, diamond join by origin, `nbTasks`
 * exactly-once and order, a one-task aggregator, `stop()` with every `close()`, a throwing node,
 * a consumer-less branch, and a time-synchronized join of two cameras (E6). Call it at the top level of a vitest file.
 *
 * @example
 * ```ts
 * describeEngineConformance(() => new BatchExecutionEngine({ queueSize: 4 }));
 * ```
 */
export function describeEngineConformance(createEngine: () => ExecutionEngine, options: EngineConformanceOptions = {}): void {
  describeEngineConformanceWith(createEngine, { ...options, fixturesUrl, fixtureExtension });
}
