import { setTimeout as sleep } from 'node:timers/promises';
import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IdentityProcessor, IntProducer, JoinerProcessor } from '@vf/core/nodes';

/** Tags each value with its branch after `workMs`. */
class Tag extends ProcessorNode<[number], number> {
  constructor(
    private readonly workMs: number,
    options: { name: string },
  ) {
    super(options);
  }

  async process(value: number): Promise<number> {
    if (this.workMs > 0) await sleep(this.workMs);
    return value;
  }
}

/** A camera into a fast and a slow branch joined again: the slow branch drops, the join must not wait for those. */
export default defineFlow((params: { count: number; fps: number; slowMs: number; out: string }) => {
  const camera = new IntProducer(0, params.count - 1, { name: 'camera', fps: params.fps });
  const fast = new IdentityProcessor({ name: 'fast' }).from(camera);
  const slow = new Tag(params.slowMs, { name: 'slow' }).from(camera);
  const join = new JoinerProcessor({ name: 'join' }).from(fast, slow);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(join);
  return new Flow([camera], [sink]);
});
