import { FlowValidationError } from '@vf/core';

/**
 * What an option must be, as a test and the words of the error: each node states its options' rules
 * once, and every invalid one fails at construction with a {@link FlowValidationError}
 * `INVALID_OPTION` that names the node, the option, what it must be and what it got.
 */
export interface OptionRule {
  readonly test: (value: unknown) => boolean;
  readonly must: string;
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** An integer ≥ `min` (and exact: at most `Number.MAX_SAFE_INTEGER`). */
export const integerFrom = (min: number): OptionRule => ({
  test: (value) => Number.isSafeInteger(value) && (value as number) >= min,
  must: min === 1 ? 'a positive integer' : `an integer ≥ ${min}`,
});
/** A finite number > 0. */
export const positiveNumber: OptionRule = { test: (value) => isNumber(value) && value > 0, must: 'a positive finite number' };
/** A finite number in [`min`, `max`]. */
export const numberIn = (min: number, max: number): OptionRule => ({
  test: (value) => isNumber(value) && value >= min && value <= max,
  must: `a number from ${min} to ${max}`,
});
/**
 * The longest delay a Node timer takes, in ms (2^31 − 1, about 24.8 days): a longer one fires at
 * once, with a `TimeoutOverflowWarning`, so a timeout option must stay within it.
 */
export const MAX_DELAY_MS = 2 ** 31 - 1;
/** A timeout or delay in ms: a number > 0 that a Node timer can wait (at most {@link MAX_DELAY_MS}). */
export const timeoutMs: OptionRule = {
  test: (value) => isNumber(value) && value > 0 && value <= MAX_DELAY_MS,
  must: `a positive number of ms up to ${MAX_DELAY_MS} (the longest a Node timer waits)`,
};
/** A boolean. */
export const boolean: OptionRule = { test: (value) => typeof value === 'boolean', must: 'true or false' };
/** A string that is not empty. */
export const nonEmptyString: OptionRule = { test: (value) => typeof value === 'string' && value !== '', must: 'a non-empty string' };
/** A function. */
export const aFunction: OptionRule = { test: (value) => typeof value === 'function', must: 'a function' };
/** An array of strings. */
export const stringArray: OptionRule = {
  test: (value) => Array.isArray(value) && value.every((item) => typeof item === 'string'),
  must: 'an array of strings',
};

/**
 * A node's `options` argument, when it is an object; else {@link FlowValidationError}
 * `INVALID_OPTION` naming `owner` (the class). Called before a constructor takes its options apart:
 * `new VideoFileReader()` threw a bare TypeError from the destructuring.
 */
export function optionsObject<T extends object>(owner: string, options: T | null | undefined, expected: string): T {
  if (typeof options === 'object' && options !== null) return options;
  throw new FlowValidationError('INVALID_OPTION', `${owner}: options must be an object ${expected}, got ${describe(options)}`, {
    details: { node: owner, option: 'options', value: describe(options) },
  });
}

/**
 * Throws {@link FlowValidationError} `INVALID_OPTION` when `options[name]` is given and breaks `rule`
 * (`required`: also when it is missing).
 */
export function checkOption(node: string, options: object, name: string, rule: OptionRule, required = false): void {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined ? !required : rule.test(value)) return;
  throw new FlowValidationError('INVALID_OPTION', `${node}: ${name} must be ${rule.must}, got ${describe(value)}`, {
    details: { node, option: name, value: describe(value) },
  });
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
