import { type ChildLink, type ReplicaLink, type SentMessage, type TaskInit, ZmqMessenger } from '@vf/core/engine';

/**
 * The realtime queue policy (the seed's `RealtimeQueueMessenger`, with its flaw fixed): a publisher
 * never waits. When the child has no room, the message is kept aside as the child's next one (per
 * replica when replicas are fed by origin), and a newer message replaces it: the **stale** one is
 * dropped (Videoflow 0.2 dropped the new one and kept the stale one). The kept message leaves as
 * soon as room is granted. Receivers take the freshest complete input set and never deliver a
 * replica's output older than one already delivered. The end of the stream is never dropped: it
 * waits for the kept messages.
 */
export class RealtimeQueueMessenger extends ZmqMessenger {
  /**
   * Per child, per destination (a replica when routed by origin, else any): the freshest message
   * that found no room yet, undefined when none waits. Entries stay once made (a child's
   * destinations are few): a `Map` entry deleted each time one left made V8 allocate the map a new
   * table each time (see `Notifier`).
   */
  readonly #kept = new Map<ChildLink, Map<ReplicaLink | undefined, SentMessage | undefined>>();
  /** A failing item is dropped, never retried: a retry would deliver it late (see `Messenger.dropsFailedItems`). */
  readonly dropsFailedItems = true;

  constructor(init: TaskInit, signal: AbortSignal, isStopRequested: () => boolean) {
    super(init, signal, isStopRequested, 'freshest');
  }

  protected deliver(link: ChildLink, message: SentMessage): undefined {
    const destination = link.routing === 'seq' ? link.replicaFor(message.seq) : undefined;
    const kept = this.#keptFor(link);
    // A message kept for this destination holds its place: this one replaces it (taking room can
    // only send kept messages, never keep one, so it changes nothing here).
    const stale = kept.get(destination);
    const replica = stale !== undefined ? undefined : this.replicaWithRoom(link, message.seq);
    if (replica !== undefined) {
      this.sendTo(replica, message);
      return undefined;
    }
    if (stale !== undefined) this.recordUnsent(link);
    kept.set(destination, message);
    // Kept until room comes: a ring's receiver must then say so (it hands room back silently otherwise).
    this.askForRoom(link);
    return undefined;
  }

  #keptFor(link: ChildLink): Map<ReplicaLink | undefined, SentMessage | undefined> {
    let kept = this.#kept.get(link);
    if (kept === undefined) {
      kept = new Map();
      this.#kept.set(link, kept);
    }
    return kept;
  }

  protected override onCredit(link: ChildLink): void {
    const kept = this.#kept.get(link);
    if (kept === undefined) return;
    for (const [destination, message] of kept) {
      if (message === undefined) continue;
      const replica = link.pick(message.seq);
      if (replica === undefined) continue;
      kept.set(destination, undefined);
      this.sendTo(replica, message);
    }
  }

  // The end must not overtake the freshest message: every kept one leaves first.
  protected override holdsMessagesFor(link: ChildLink): boolean {
    for (const message of this.#kept.get(link)?.values() ?? []) if (message !== undefined) return true;
    return false;
  }
}
