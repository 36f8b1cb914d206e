import { createRequire } from 'node:module';
import type { z } from 'zod';

const require = createRequire(import.meta.url);
let loaded: typeof z | undefined;

/**
 * zod, loaded on first use. Through `require`, which the task program's compiler does not follow
 * (see `runtime/taskProgram.ts`): zod is three quarters of what a task would otherwise parse at
 * start-up (~750 KB), for checks that a task runs only when a node has `join` or an `onError`
 * object. The host loads it once, for the first option it checks.
 */
export function zod(): typeof z {
  loaded ??= (require('zod') as { z: typeof z }).z;
  return loaded;
}

/** A schema built on first use (see {@link zod}), then kept. */
export function lazySchema<TSchema>(build: (zod: typeof z) => TSchema): () => TSchema {
  let schema: TSchema | undefined;
  return () => {
    schema ??= build(zod());
    return schema;
  };
}
