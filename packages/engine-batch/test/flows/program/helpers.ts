import { readFileSync } from 'node:fs';
import { ProcessorNode } from '@vf/core';

/** Read beside this file through its own `import.meta.url`: it must point here, not at a compiled copy. */
export const OFFSET = Number(readFileSync(new URL('./offset.txt', import.meta.url), 'utf8'));

/** Same class name as one in `flow.ts`: node names (class name + counter) must match the host's. */
export class Step extends ProcessorNode<[number], number> {
  process(value: number): number {
    return value + OFFSET;
  }
}
