import { type ChildLink, ZmqMessenger } from '@vf/core/engine';

/**
 * The batch queue policy (the seed's `BatchprocessingQueueMessenger`): a publisher whose child has
 * no room waits until it has. Nothing is ever dropped, and a free replica takes the next item.
 */
export class BatchQueueMessenger extends ZmqMessenger {
  protected async deliver(link: ChildLink, frames: Buffer[]): Promise<void> {
    for (;;) {
      const replica = link.pickReplica();
      if (replica !== undefined) return this.sendTo(replica, frames);
      await this.waitForCredit(link);
    }
  }
}
