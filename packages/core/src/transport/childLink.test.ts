import { describe, expect, it } from 'vitest';
import type * as Zmq from 'zeromq';
import { packHeader } from '../wire/codec.js';
import { parseEnvelope, type WireEnvelope } from '../wire/envelope.js';
import { ChildLink, ReplicaLink } from './zmqMessenger.js';

/** A replica link whose socket records what leaves it, as parsed envelopes (batches opened). */
function recordedReplica(taskId: number, recentLimit: number): { replica: ReplicaLink; received: WireEnvelope[] } {
  const received: WireEnvelope[] = [];
  const socket = {
    send: async (frames: Buffer[]) => {
      for (let at = 0; at < frames.length; ) {
        const parsed = parseEnvelope(frames, at);
        if (parsed.envelope.kind === 'batch') {
          const inner = parsed.envelope.frames;
          for (let index = 0; index < inner.length; ) {
            const each = parseEnvelope(inner, index, undefined, false);
            received.push(each.envelope);
            index = each.next;
          }
        } else received.push(parsed.envelope);
        at = parsed.next;
      }
    },
  } as unknown as Zmq.Dealer;
  const replica = new ReplicaLink(socket, taskId, true, recentLimit);
  replica.addCredit(8, false); // admitted, with room
  return { replica, received };
}

/** Sends origin `seq` (a data message stood in for by an end frame: only its seq matters here) where `link` routes it. */
function send(link: ChildLink, seq: number): ReplicaLink {
  const replica = link.replicaFor(seq) as ReplicaLink;
  replica.credit -= 1;
  replica.unconfirmed?.push({ seq, frames: [packHeader(['e', 'completed'])] });
  return replica;
}

describe('ChildLink, a replicated join under restartOnFailure: a replica lost after confirming some of its sets', () => {
  it('tells the survivors which origins the lost replica confirmed last, besides re-sending what it had not', async () => {
    const tasks = [10, 11, 12].map((taskId) => recordedReplica(taskId, 4));
    const link = new ChildLink(
      'unpair',
      tasks.map(({ replica }) => replica),
      'seq',
    );
    for (let seq = 0; seq < 12; seq++) send(link, seq);
    const lost = tasks[1]?.replica as ReplicaLink;
    expect(lost.unconfirmed?.map((message) => message.seq)).toEqual([1, 4, 7, 10]);
    lost.addCredit(1, true);
    lost.addCredit(2, true); // 1, 4, 7 released downstream and confirmed to this sender; 10 not
    expect(lost.recentlyConfirmed).toEqual([1, 4, 7]);
    lost.lost = true;
    expect(link.resendFrom(lost)).toBe(true);
    link.announceDone(lost);
    await new Promise((resolve) => setImmediate(resolve));
    for (const survivor of [tasks[0], tasks[2]]) {
      expect(survivor?.received.filter((envelope) => envelope.kind === 'done')).toEqual([{ kind: 'done', seqs: [1, 4, 7] }]);
    }
    expect(tasks[1]?.received.some((envelope) => envelope.kind === 'done')).toBe(false);
    // 10, unconfirmed, is re-sent where its origin now routes; nothing is announced twice.
    expect(link.replicaFor(10)?.unconfirmed?.map((message) => message.seq)).toContain(10);
    expect(lost.recentlyConfirmed).toEqual([]);
  });

  it('remembers at least the last `recentLimit` confirmed origins, trimmed in bulk', () => {
    const { replica } = recordedReplica(10, 3);
    for (let seq = 0; seq < 20; seq++) replica.unconfirmed?.push({ seq, frames: [] });
    for (let count = 0; count < 20; count++) {
      replica.addCredit(1, true);
      const recent = replica.recentlyConfirmed ?? [];
      expect(recent.length).toBeLessThan(6);
      expect(recent.slice(-Math.min(3, count + 1))).toEqual(
        Array.from({ length: Math.min(3, count + 1) }, (_, index) => count + 1 - Math.min(3, count + 1) + index),
      );
    }
  });

  it('keeps no origins where it is not asked to (any child but a replicated join, or without restartOnFailure)', () => {
    const socket = {} as Zmq.Dealer;
    expect(new ReplicaLink(socket, 1, true, 0).recentlyConfirmed).toBeUndefined();
    expect(new ReplicaLink(socket, 1, false, 8).recentlyConfirmed).toBeUndefined();
  });
});
