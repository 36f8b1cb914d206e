import { type ChildLink, type SentMessage, ZmqMessenger } from '@vf/core/engine';

/**
 * The batch queue policy (the seed's `BatchprocessingQueueMessenger`): a publisher whose child has
 * no room waits until it has. Nothing is ever dropped; a free replica takes the next item (or, when
 * replicas are fed by origin, the replica that owns it does).
 */
export class BatchQueueMessenger extends ZmqMessenger {
  protected async deliver(link: ChildLink, message: SentMessage): Promise<void> {
    for (;;) {
      const replica = link.pick(message.seq);
      if (replica !== undefined) return this.sendTo(replica, message);
      await this.waitForCredit(link);
    }
  }
}
