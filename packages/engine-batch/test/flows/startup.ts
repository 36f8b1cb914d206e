import { writeFileSync } from 'node:fs';
import Module from 'node:module';
import { ConsumerNode, defineFlow, Flow } from '@vf/core';
import { FileAppenderConsumer, IdentityProcessor, IntProducer } from '@vf/core/nodes';

/**
 * Writes, when it closes, which of Node's internal modules its task process loaded
 * (`process.moduleLoadList`), and which files Node's CommonJS loader loaded there (its cache).
 */
class LoadedModules extends ConsumerNode<[number]> {
  constructor(private readonly out: string) {
    super({ name: 'loaded' });
  }

  consume(): void {}

  override close(): void {
    const internal = (process as NodeJS.Process & { moduleLoadList: string[] }).moduleLoadList;
    const files = Object.keys((Module as unknown as { _cache: Record<string, unknown> })._cache);
    writeFileSync(this.out, JSON.stringify({ internal, files }));
  }
}

/**
 * numbers → relay → sink. `throwInTask`: building the flow throws in the task processes (not in the
 * host), as a flow module whose import fails there would (a native library missing on that machine).
 * `loadedOut`: a second consumer of relay writes there the internal modules and the files its task loaded.
 */
export default defineFlow((params: { out: string; throwInTask?: boolean; loadedOut?: string }) => {
  if (params.throwInTask === true && process.env.VF_TASK !== undefined) {
    throw new Error(`cannot load the codec library in task ${process.env.VF_TASK}`);
  }
  const numbers = new IntProducer(0, 99, { name: 'numbers' });
  const relay = new IdentityProcessor({ name: 'relay' }).from(numbers);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(relay);
  const consumers: ConsumerNode[] = [sink];
  if (params.loadedOut !== undefined) consumers.push(new LoadedModules(params.loadedOut).from(relay));
  return new Flow([numbers], consumers);
});
