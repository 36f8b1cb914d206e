import { setTimeout as sleep } from 'node:timers/promises';
import { defineFlow, Flow, ProcessorNode } from '@vf/core';
import { FileAppenderConsumer, IntProducer } from '@vf/core/nodes';

/** Takes `workMs` per item, like a detector with a fixed cost. */
class FixedCost extends ProcessorNode<[number], number> {
  constructor(
    private readonly workMs: number,
    options: { name: string; nbTasks?: number },
  ) {
    super(options);
  }

  async process(value: number): Promise<number> {
    await sleep(this.workMs);
    return value;
  }
}

/**
 * A camera pacing `count` items at `fps` into a processor slower than the camera, into a file.
 * Without `fps` the camera is an unpaced synchronous counter; without `count` it never ends.
 */
export default defineFlow((params: { count?: number; fps?: number; workMs: number; out: string; nbTasks?: number }) => {
  const end = params.count === undefined ? Number.POSITIVE_INFINITY : params.count - 1;
  const camera = new IntProducer(0, end, params.fps === undefined ? { name: 'camera' } : { name: 'camera', fps: params.fps });
  const detect = new FixedCost(params.workMs, { name: 'detect', nbTasks: params.nbTasks ?? 1 });
  detect.from(camera);
  const sink = new FileAppenderConsumer(params.out, { name: 'sink' }).from(detect);
  return new Flow([camera], [sink]);
});
