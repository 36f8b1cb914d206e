import { setTimeout as sleep } from 'node:timers/promises';
import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IdentityProcessor, IntProducer, JoinerProcessor } from '@vf/core/nodes';

/** Tags each value with its branch after `workMs`. */
class Tag extends ProcessorNode<[number], number> {
  constructor(
    private readonly workMs: number,
    options: { name: string; nbTasks?: number },
  ) {
    super(options);
  }

  async process(value: number): Promise<number> {
    if (this.workMs > 0) await sleep(this.workMs);
    return value;
  }
}

/**
 * A camera into a fast and a slow branch joined again. With one slow task that cannot keep up, the
 * slow branch drops and the join must not wait for those; with `slowTasks` enough to keep up, the
 * branches differ only in latency and the join must pair what both delivered.
 */
export default defineFlow((params: { count: number; fps: number; slowMs: number; slowTasks?: number; out: string }) => {
  const camera = new IntProducer(0, params.count - 1, { name: 'camera', fps: params.fps });
  const fast = new IdentityProcessor({ name: 'fast' }).from(camera);
  const slow = new Tag(params.slowMs, { name: 'slow', nbTasks: params.slowTasks ?? 1 }).from(camera);
  const join = new JoinerProcessor({ name: 'join' }).from(fast, slow);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(join);
  return new Flow([camera], [sink]);
});
