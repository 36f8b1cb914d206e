import type { ExecutionEngine } from '../contracts/engine.js';
import { FlowValidationError } from '../errors.js';
import type { RunOptions } from './flow.js';

/** Methods every engine has (the optional `taskProgress` is not checked). */
const ENGINE_METHODS = ['allocateAndRunTasks', 'signalFlowTermination', 'joinTaskProcesses'] as const;

/** The keys of `RunOptions`: any other is a typo (`metricz`) that would be ignored silently. */
const RUN_OPTIONS: readonly string[] = ['deviceAllocator', 'handleSigint', 'log', 'metrics'] satisfies readonly (keyof RunOptions)[];

/**
 * Checks what `flow.run(engine, options)` was given before the flow changes state, so that a wrong
 * argument (a plain object, a forgotten `new`) is a coded error and the flow can still run.
 */
export function checkRunArguments(engine: unknown, options: unknown): asserts engine is ExecutionEngine {
  const missing = ENGINE_METHODS.filter((method) => typeof (engine as Record<string, unknown> | null | undefined)?.[method] !== 'function');
  if (missing.length > 0) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `flow.run(): the engine must be an ExecutionEngine (e.g. new InProcessEngine() or new BatchExecutionEngine()), got ${describe(engine)} without ${missing.join(', ')}`,
      { details: { option: 'engine', missing } },
    );
  }
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new FlowValidationError('INVALID_OPTION', `flow.run(): options must be an object, got ${describe(options)}`, {
      details: { option: 'options' },
    });
  }
  for (const key of Object.keys(options)) {
    if (!RUN_OPTIONS.includes(key)) {
      throw new FlowValidationError(
        'INVALID_OPTION',
        `flow.run(): ${key} is not an option (the options are ${RUN_OPTIONS.join(', ')}), got ${describe((options as Record<string, unknown>)[key])}`,
        { details: { option: key } },
      );
    }
  }
  const { deviceAllocator, handleSigint, log } = options as Record<string, unknown>;
  if (log !== undefined && (typeof log !== 'object' || log === null)) {
    throw new FlowValidationError('INVALID_OPTION', `flow.run(): log must be an object ({ level, format }), got ${describe(log)}`, {
      details: { option: 'log' },
    });
  }
  if (deviceAllocator !== undefined && typeof (deviceAllocator as Record<string, unknown> | null)?.allocate !== 'function') {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `flow.run(): deviceAllocator must be a DeviceAllocator, an object with an allocate(nodes) method (e.g. new GpuAllocator() from @vf/gpu), got ${describe(deviceAllocator)}`,
      { details: { option: 'deviceAllocator' } },
    );
  }
  if (handleSigint !== undefined && typeof handleSigint !== 'boolean') {
    throw new FlowValidationError('INVALID_OPTION', `flow.run(): handleSigint must be a boolean, got ${describe(handleSigint)}`, {
      details: { option: 'handleSigint' },
    });
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') {
    const kind = (value as object).constructor?.name;
    return kind === undefined || kind === 'Object' ? 'an object' : `a ${kind}`;
  }
  return `${typeof value} ${JSON.stringify(value) ?? String(value)}`;
}
