import { type ChildLink, type SentMessage, ZmqMessenger } from '@vf/core/engine';

/**
 * The batch queue policy (the seed's `BatchprocessingQueueMessenger`): a publisher whose child has
 * no room waits until it has. Nothing is ever dropped; a free replica takes the next item (or, when
 * replicas are fed by origin, the replica that owns it does).
 *
 * A message without room waits here and leaves from the credit handler the moment room comes back,
 * before the publisher wakes. The publisher does not run ahead of room: running
 * ahead batched a backlog well, but a message waiting for room then left only when the publisher's
 * event loop turned, so a node that computed synchronously right after publishing into a full
 * queue held it back (for ever, for one stuck in a loop; test/batching.integration.test.ts).
 */
export class BatchQueueMessenger extends ZmqMessenger {
  /**
   * Per child: the message published without room (one: the publisher waits for it), until room
   * comes. A child's array stays once made, empty while nothing waits: a `Map` entry deleted each
   * time the queue drained made V8 allocate the map a new table each time (see `Notifier`).
   */
  readonly #ahead = new Map<ChildLink, SentMessage[]>();

  protected deliver(link: ChildLink, message: SentMessage): Promise<void> | undefined {
    const ahead = this.#aheadOf(link);
    if (ahead.length === 0) {
      // Nothing waiting before it: the message leaves now if a replica has room.
      const replica = this.replicaWithRoom(link, message.seq);
      if (replica !== undefined) {
        this.sendTo(replica, message);
        return undefined;
      }
    }
    ahead.push(message);
    return this.#untilSent(link, ahead, message);
  }

  #aheadOf(link: ChildLink): SentMessage[] {
    let ahead = this.#ahead.get(link);
    if (ahead === undefined) {
      ahead = [];
      this.#ahead.set(link, ahead);
    }
    return ahead;
  }

  /** Waits until `message`, and so every message before it in `ahead`, has left. */
  async #untilSent(link: ChildLink, ahead: readonly SentMessage[], message: SentMessage): Promise<void> {
    while (ahead.includes(message)) await this.waitForCredit(link);
  }

  protected override onCredit(link: ChildLink): void {
    const ahead = this.#ahead.get(link);
    if (ahead === undefined || ahead.length === 0) return;
    link.corked(() => {
      // In order: a message whose replica has no room yet holds back those behind it (batch order).
      for (;;) {
        const next = ahead[0];
        const replica = next === undefined ? undefined : link.pick(next.seq);
        if (next === undefined || replica === undefined) break;
        ahead.shift();
        this.sendTo(replica, next);
      }
    });
  }

  protected override canLend(link: ChildLink): boolean {
    return this.holdsMessagesFor(link);
  }

  /**
   * The flow is in a deadlock of bounded queues: the message waiting first for `link` leaves past
   * its room (its origin's replica, else the one with the most room). Its debt is repaid as room comes back.
   */
  protected override lend(link: ChildLink): boolean {
    const ahead = this.#ahead.get(link);
    const next = ahead?.[0];
    const replica = next === undefined ? undefined : link.replicaToLend(next.seq);
    if (ahead === undefined || next === undefined || replica === undefined) return false;
    ahead.shift();
    this.sendTo(replica, next);
    return true;
  }

  protected override holdsMessagesFor(link: ChildLink): boolean {
    return (this.#ahead.get(link)?.length ?? 0) > 0;
  }
}
