import { describe, expect, it } from 'vitest';
import { isVfError } from '../errors.js';
import { IdentityProcessor } from '../library/basicProcessors.js';
import { VoidConsumer } from '../library/consumers.js';
import { IntProducer } from '../library/intProducer.js';
import { FunctionProcessorNode } from './functionProcessorNode.js';
import { OneTaskProcessorNode } from './processorNode.js';
import { TaskModuleNode } from './taskModuleNode.js';

class Count extends OneTaskProcessorNode<[number], number> {
  process(value: number) {
    return value;
  }
}

/** The error `build` throws, as `code: message`. */
function refusal(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    return isVfError(error) ? `${error.code}: ${error.message}` : `not a VfError: ${String(error)}`;
  }
  return 'accepted';
}

describe('node options that are not an object', () => {
  // Before: null failed with a bare TypeError reading its `name`; a number or string was taken as no options.
  const cases: Array<[string, (options: never) => unknown]> = [
    ['IdentityProcessor', (options) => new IdentityProcessor(options)],
    ['IntProducer', (options) => new IntProducer(0, 3, options)],
    ['VoidConsumer', (options) => new VoidConsumer(options)],
    ['FunctionProcessorNode', (options) => new FunctionProcessorNode((value: number) => value, options)],
    ['Count', (options) => new Count(options)],
    ['TaskModuleNode', (options) => new TaskModuleNode(new IdentityProcessor(), new IdentityProcessor(), options)],
  ];
  for (const [name, build] of cases) {
    it(`${name}: null, a number, a string and an array are INVALID_OPTION naming the class`, () => {
      expect(refusal(() => build(null as never))).toBe(`INVALID_OPTION: ${name}: node options must be an object, got null`);
      expect(refusal(() => build(5 as never))).toBe(`INVALID_OPTION: ${name}: node options must be an object, got number 5`);
      expect(refusal(() => build('fast' as never))).toBe(`INVALID_OPTION: ${name}: node options must be an object, got string fast`);
      expect(refusal(() => build([] as never))).toBe(`INVALID_OPTION: ${name}: node options must be an object, got an array`);
    });
  }

  it('left out or an object, options are taken as before', () => {
    expect(new IdentityProcessor().name).toBe('IdentityProcessor');
    expect(new IdentityProcessor({ name: 'same' }).name).toBe('same');
    expect(new IntProducer(0, 3).end).toBe(3);
  });
});
