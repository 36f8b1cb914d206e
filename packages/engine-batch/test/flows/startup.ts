import { defineFlow, Flow } from '@vf/core';
import { FileAppenderConsumer, IdentityProcessor, IntProducer } from '@vf/core/nodes';

/**
 * numbers → relay → sink. `throwInTask`: building the flow throws in the task processes (not in the
 * host), as a flow module whose import fails there would (a native library missing on that machine).
 */
export default defineFlow((params: { out: string; throwInTask?: boolean }) => {
  if (params.throwInTask === true && process.env.VF_TASK !== undefined) {
    throw new Error(`cannot load the codec library in task ${process.env.VF_TASK}`);
  }
  const numbers = new IntProducer(0, 99, { name: 'numbers' });
  const relay = new IdentityProcessor({ name: 'relay' }).from(numbers);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(relay);
  return new Flow([numbers], [sink]);
});
