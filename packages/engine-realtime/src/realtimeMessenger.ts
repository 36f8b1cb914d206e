import { type ChildLink, type EndReason, type TaskInit, ZmqMessenger } from '@vf/core/engine';

/**
 * The realtime queue policy (the seed's `RealtimeQueueMessenger`, with its flaw fixed): a publisher
 * never waits. When no task of a child has room, the message is kept aside as that child's next
 * one, and a newer message replaces it: the **stale** one is dropped (Videoflow 0.2 dropped the
 * new one and kept the stale one). The kept message leaves as soon as a task grants room.
 * Receivers take the freshest complete input set and never deliver a replica's output older than
 * one already delivered. The end of the stream is never dropped: it waits for the kept messages.
 */
export class RealtimeQueueMessenger extends ZmqMessenger {
  /** Per child: the freshest message that found no room yet. */
  readonly #kept = new Map<ChildLink, Buffer[]>();

  constructor(init: TaskInit, signal: AbortSignal, isStopRequested: () => boolean) {
    super(init, signal, isStopRequested, 'freshest');
  }

  protected async deliver(link: ChildLink, frames: Buffer[]): Promise<void> {
    const replica = this.#kept.has(link) ? undefined : link.pickReplica();
    if (replica !== undefined) return this.sendTo(replica, frames);
    if (this.#kept.has(link)) this.recordUnsent(link);
    this.#kept.set(link, frames);
  }

  protected override onCredit(link: ChildLink): void {
    const frames = this.#kept.get(link);
    const replica = frames === undefined ? undefined : link.pickReplica();
    if (frames === undefined || replica === undefined) return;
    this.#kept.delete(link);
    void this.sendTo(replica, frames);
  }

  override async publishTerminationMessage(reason: EndReason = 'completed'): Promise<void> {
    // The end must not overtake the freshest message: let every kept one leave first.
    for (const link of [...this.#kept.keys()]) {
      while (this.#kept.has(link)) await this.waitForCredit(link);
    }
    await super.publishTerminationMessage(reason);
  }
}
