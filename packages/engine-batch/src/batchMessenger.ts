import { type ChildLink, type EndReason, type SentMessage, type TaskInit, ZmqMessenger } from '@vf/core/engine';

/**
 * The batch queue policy (the seed's `BatchprocessingQueueMessenger`): a publisher whose child has
 * no room waits until it has. Nothing is ever dropped; a free replica takes the next item (or, when
 * replicas are fed by origin, the replica that owns it does).
 *
 * Sending in bulk: a publisher may run up to {@link aheadLimit} messages ahead of its child's room
 * (`queueSize / 2`, the size of the receiver's credit batches). They wait here, in order, and leave
 * together, as one ZeroMQ message, the moment room comes back; only then does the publisher block.
 * A message with room leaves at once, so nothing is ever held back that could have been sent: only
 * a backlog is batched, and a node computing synchronously never delays an output that has room.
 * With `restartOnFailure` a publisher does not run ahead (`aheadLimit` 0): it blocks at its child's
 * room as before, so that what a lost replica had not finished is all in flight, in order, when
 * it is re-sent (running ahead there made re-dispatch after a SIGKILL hang in three topologies).
 */
export class BatchQueueMessenger extends ZmqMessenger {
  /** Per child: messages published without room, oldest first. */
  readonly #ahead = new Map<ChildLink, SentMessage[]>();
  /** How many messages a publisher may have waiting for room per child before it blocks. */
  readonly aheadLimit: number;

  constructor(init: TaskInit, signal: AbortSignal, isStopRequested: () => boolean) {
    super(init, signal, isStopRequested);
    this.aheadLimit = init.restartOnFailure ? 0 : Math.max(1, Math.floor(init.queueSize / 2));
  }

  protected async deliver(link: ChildLink, message: SentMessage): Promise<void> {
    let ahead = this.#ahead.get(link);
    if (ahead === undefined) {
      // Nothing waiting before it: the message leaves now if a replica has room.
      const replica = link.pick(message.seq);
      if (replica !== undefined) return this.sendTo(replica, message);
      ahead = [];
      this.#ahead.set(link, ahead);
    }
    ahead.push(message);
    while (ahead.length > this.aheadLimit) await this.waitForCredit(link);
  }

  protected override onCredit(link: ChildLink): void {
    const ahead = this.#ahead.get(link);
    if (ahead === undefined) return;
    link.corked(() => {
      // In order: a message whose replica has no room yet holds back those behind it (batch order).
      for (;;) {
        const next = ahead[0];
        const replica = next === undefined ? undefined : link.pick(next.seq);
        if (next === undefined || replica === undefined) break;
        ahead.shift();
        void this.sendTo(replica, next);
      }
    });
    if (ahead.length === 0) this.#ahead.delete(link);
  }

  override async publishTerminationMessage(reason: EndReason = 'completed'): Promise<void> {
    // The end must not overtake the messages still waiting for room.
    for (const link of [...this.#ahead.keys()]) {
      while (this.#ahead.has(link)) await this.waitForCredit(link);
    }
    await super.publishTerminationMessage(reason);
  }
}
