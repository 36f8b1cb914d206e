import { writeFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow } from '@vf/core';
import { FileAppenderConsumer, IdentityProcessor, IntProducer } from '@vf/core/nodes';

/** Writes, when it closes, which of Node's internal modules its task process loaded (`process.moduleLoadList`). */
class LoadedModules extends ConsumerNode<[number]> {
  constructor(private readonly out: string) {
    super({ name: 'loaded' });
  }

  consume(): void {}

  override close(): void {
    writeFileSync(this.out, JSON.stringify((process as NodeJS.Process & { moduleLoadList: string[] }).moduleLoadList));
  }
}

/**
 * numbers → relay → sink. `throwInTask`: building the flow throws in the task processes (not in the
 * host), as a flow module whose import fails there would (a native library missing on that machine).
 * `loadedOut`: a second consumer of relay writes there the internal modules its task loaded.
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
