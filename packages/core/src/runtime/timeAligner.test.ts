import { describe, expect, it } from 'vitest';
import type { EndReason, Envelope, InputSet } from '../contracts/messenger.js';
import type { JoinCollect, TimeJoinSpec } from '../nodes/joinOptions.js';
import type { PlannedNode } from '../plan/executionPlan.js';
import { seeded } from '../testing/seededRandom.js';
import type { Clock } from './clock.js';
import type { ReleaseKind } from './inputAligner.js';
import { isSkippedItem } from './skippedItem.js';
import { convergingParents, createNodeAligner, eventTime, TimeAligner, timeJoinAlignerOptions } from './timeAligner.js';

/** A message stamped with event time `timestamp` (its value is `value`, its ticket `ticket`). */
function at(timestamp: number, value: unknown = timestamp, ticket = 0): Envelope {
  return {
    kind: 'data',
    value,
    meta: { seq: ticket, ticket, node: 'cam', taskIndex: 0, proctimeMs: 0, actualProctimeMs: 0, createdAt: 1_000_000, timestamp },
  };
}

function end(reason: EndReason = 'completed'): Envelope {
  return { kind: 'end', reason };
}

function spec(overrides: Partial<TimeJoinSpec> = {}): TimeJoinSpec {
  return { mode: 'time', toleranceMs: 12, timeoutMs: 250, collect: 'first' as JoinCollect, ...overrides };
}

function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return {
    now: () => now,
    epochNow: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

/** Takes every set available now, as value arrays (`'end'` for the end). */
/** The sets taken until the end: their values, `'end'`, or `'dropped'` for a dropped group's marker. */
function drain(aligner: { take(): InputSet | undefined }): Array<readonly unknown[] | 'end' | 'dropped'> {
  const sets: Array<readonly unknown[] | 'end' | 'dropped'> = [];
  for (let set = aligner.take(); set !== undefined; set = aligner.take()) {
    const dropped = set.kind === 'data' && set.values.every((value) => isSkippedItem(value) && value.groupDropped);
    sets.push(set.kind === 'end' ? 'end' : dropped ? 'dropped' : set.values);
    if (set.kind === 'end') break;
  }
  return sets;
}

describe('TimeAligner (batch: event time only)', () => {
  it('releases a complete group as soon as every parent has an item within the tolerance', () => {
    const aligner = new TimeAligner([1, 1], spec());
    aligner.push(0, at(100, 'a'));
    expect(aligner.take()).toBeUndefined();
    aligner.push(1, at(108, 'b'));
    expect(aligner.take()).toMatchObject({ kind: 'data', seq: 0, ticket: 0, values: ['a', 'b'] });
    expect(aligner.joinGroups()).toEqual({ complete: 1, partial: 0, dropped: 0 });
  });

  it('once fewer parents can send than the quorum, says so at once (a draining end), then drops the groups that close until the final end', () => {
    const released: string[] = [];
    const aligner = new TimeAligner([1, 1], spec({ toleranceMs: 0 }), {
      onRelease: (parent, envelope, how) => released.push(`${parent}:${envelope.kind === 'data' ? String(envelope.value) : 'end'}:${how}`),
    });
    aligner.push(0, at(0, 'a0'));
    aligner.push(1, at(0, 'b0'));
    aligner.push(0, end());
    expect(aligner.take()).toMatchObject({ kind: 'data', values: ['a0', 'b0'] });
    // Parent 0 has ended: with quorum 2 (both parents), no group can be released any more.
    expect(aligner.take()).toEqual({ kind: 'end', reason: 'completed', draining: true });
    expect(aligner.take()).toBeUndefined();
    aligner.push(1, at(10, 'b1'));
    aligner.push(1, at(20, 'b2'));
    expect(aligner.take()).toBeUndefined();
    aligner.push(1, end());
    expect(aligner.take()).toEqual({ kind: 'end', reason: 'completed' });
    // Every message's room went back, the dropped ones as discarded; their groups are counted.
    expect(released.slice(2)).toEqual(['1:b1:discarded', '1:b2:discarded']);
    expect(aligner.joinGroups()).toEqual({ complete: 1, partial: 0, dropped: 2 });
    expect(aligner.droppedByParent).toEqual([0, 2]);
  });

  it('with a quorum the rest can still meet, no draining end: groups go on', () => {
    const aligner = new TimeAligner([1, 1], spec({ toleranceMs: 0, quorum: 1 }));
    aligner.push(0, end());
    aligner.push(1, at(10, 'b1'));
    aligner.push(1, end());
    expect(drain(aligner)).toEqual([[undefined, 'b1'], 'end']);
  });

  it('treats the tolerance as inclusive: 12 ms apart joins, 12.5 ms apart does not', () => {
    const aligner = new TimeAligner([1, 1], spec({ quorum: 1 }));
    aligner.push(0, at(0, 'a0'));
    aligner.push(1, at(12, 'b0'));
    aligner.push(0, at(100, 'a1'));
    aligner.push(1, at(112.5, 'b1'));
    aligner.push(0, end());
    aligner.push(1, end());
    expect(drain(aligner)).toEqual([['a0', 'b0'], ['a1', undefined], [undefined, 'b1'], 'end']);
    expect(aligner.joinGroups()).toEqual({ complete: 1, partial: 2, dropped: 0 });
  });

  it('groups by event time whatever the order of arrival across parents', () => {
    const inOrder = new TimeAligner([1, 1], spec({ quorum: 1 }));
    const shuffled = new TimeAligner([1, 1], spec({ quorum: 1 }));
    const a = [0, 20, 40, 60].map((t) => at(t, `a${t}`));
    const b = [3, 43, 62].map((t) => at(t, `b${t}`));
    const results: Array<Array<readonly unknown[] | 'end' | 'dropped'>> = [];
    for (const [aligner, order] of [
      [inOrder, [...a.map((m) => [0, m] as const), ...b.map((m) => [1, m] as const)]],
      [shuffled, [...b.map((m) => [1, m] as const), ...a.map((m) => [0, m] as const)]],
    ] as const) {
      const sets: Array<readonly unknown[] | 'end' | 'dropped'> = [];
      for (const [parent, message] of order) {
        aligner.push(parent, message);
        sets.push(...drain(aligner));
      }
      aligner.push(0, end());
      aligner.push(1, end());
      sets.push(...drain(aligner));
      results.push(sets);
    }
    const expected = [['a0', 'b3'], ['a20', undefined], ['a40', 'b43'], ['a60', 'b62'], 'end'];
    expect(results[0]).toEqual(expected);
    expect(results[1]).toEqual(expected);
  });

  it('waits for a parent that has not passed the window yet (no wall clock in batch)', () => {
    const clock = manualClock();
    const aligner = new TimeAligner([1, 1], spec({ quorum: 1 }), { clock });
    aligner.push(0, at(0, 'a0'));
    clock.advance(10_000);
    expect(aligner.take()).toBeUndefined();
    expect(aligner.nextDeadline()).toBeUndefined();
    // b's next item is past a0's window: the group is final, partial.
    aligner.push(1, at(20, 'b1'));
    expect(aligner.take()).toMatchObject({ values: ['a0', undefined] });
  });

  it('drops a group below the quorum, counting its items on their edges', () => {
    const aligner = new TimeAligner([1, 1, 1], spec({ quorum: 2 }));
    aligner.push(0, at(0, 'a0'));
    aligner.push(1, at(30, 'b1'));
    aligner.push(2, at(31, 'c1'));
    aligner.push(0, at(33, 'a1'));
    // In the dropped group's place, its marker (batch): seq 0, its event time; the group released is seq 1.
    const marker = aligner.take();
    expect(marker).toMatchObject({ kind: 'data', seq: 0, ticket: 0, metas: [{ timestamp: 0 }, undefined, undefined] });
    expect(marker?.kind === 'data' && marker.values.every((value) => isSkippedItem(value) && value.groupDropped)).toBe(true);
    expect(aligner.take()).toMatchObject({ seq: 1, values: ['a1', 'b1', 'c1'] });
    expect(aligner.joinGroups()).toEqual({ complete: 1, partial: 0, dropped: 1 });
    expect(aligner.droppedByParent).toEqual([1, 0, 0]);
  });

  it('flushes pending groups at the end of the stream by the quorum rule', () => {
    const aligner = new TimeAligner([1, 1], spec({ quorum: 1 }));
    aligner.push(0, at(0, 'a0'));
    aligner.push(0, at(20, 'a1'));
    aligner.push(0, end());
    expect(aligner.take()).toBeUndefined();
    aligner.push(1, end('stopped'));
    expect(drain(aligner)).toEqual([['a0', undefined], ['a1', undefined], 'end']);
    const strict = new TimeAligner([1, 1], spec());
    strict.push(0, at(0, 'a0'));
    strict.push(0, end());
    strict.push(1, end());
    expect(drain(strict)).toEqual(['dropped', 'end']);
    expect(strict.joinGroups()).toEqual({ complete: 0, partial: 0, dropped: 1 });
  });

  it('ends with the stop reason when a parent was stopped', () => {
    const aligner = new TimeAligner([1, 1], spec());
    aligner.push(0, end('stopped'));
    aligner.push(1, end());
    expect(aligner.take()).toEqual({ kind: 'end', reason: 'stopped' });
  });

  it('collect: first keeps later items of the window for the next groups, last keeps the latest, all keeps every one', () => {
    const run = (collect: JoinCollect) => {
      const aligner = new TimeAligner([1, 1], spec({ collect, toleranceMs: 30, quorum: 1 }));
      for (const t of [0, 20, 40]) aligner.push(0, at(t, `a${t}`));
      for (const t of [5, 25, 45]) aligner.push(1, at(t, `b${t}`));
      aligner.push(0, end());
      aligner.push(1, end());
      return { sets: drain(aligner), dropped: aligner.droppedByParent };
    };
    expect(run('first')).toEqual({ sets: [['a0', 'b5'], ['a20', 'b25'], ['a40', 'b45'], 'end'], dropped: [0, 0] });
    expect(run('last')).toEqual({ sets: [['a20', 'b25'], ['a40', 'b45'], 'end'], dropped: [1, 1] });
    expect(run('all')).toEqual({
      sets: [
        [
          ['a0', 'a20'],
          ['b5', 'b25'],
        ],
        [['a40'], ['b45']],
        'end',
      ],
      dropped: [0, 0],
    });
  });

  it('drops an item older than a group already closed (late), and keeps a parent out of order within a window', () => {
    const aligner = new TimeAligner([1, 1], spec({ quorum: 1 }));
    aligner.push(0, at(100, 'a100'));
    aligner.push(1, at(105, 'b105'));
    expect(drain(aligner)).toEqual([['a100', 'b105']]);
    aligner.push(1, at(50, 'late'));
    expect(aligner.droppedByParent).toEqual([0, 1]);
    // Out of order within one parent, but before anything closed: sorted by event time.
    aligner.push(0, at(140, 'a140'));
    aligner.push(0, at(120, 'a120'));
    aligner.push(0, end());
    aligner.push(1, end());
    expect(drain(aligner)).toEqual([['a120', undefined], ['a140', undefined], 'end']);
  });

  it('closes a window when an edge is full (batch), so a huge tolerance cannot deadlock', () => {
    const aligner = new TimeAligner([1, 1], spec({ collect: 'all', toleranceMs: 1_000, quorum: 1 }), { capacity: [2, 2] });
    aligner.push(0, at(0, 'a0'));
    aligner.push(1, at(1, 'b0'));
    expect(aligner.take()).toBeUndefined();
    aligner.push(0, at(10, 'a1'));
    expect(aligner.canAccept(0, at(20), 2)).toBe(false);
    // a is full, but b still has room: it may yet send into the window.
    expect(aligner.take()).toBeUndefined();
    aligner.push(1, at(11, 'b1'));
    expect(aligner.take()).toMatchObject({
      values: [
        ['a0', 'a1'],
        ['b0', 'b1'],
      ],
    });
    expect(aligner.canAccept(0, at(20), 2)).toBe(true);
  });

  it('lends room to converging parents while one can still add to the open group: they neither fill nor count as full', () => {
    const released: string[] = [];
    // Parent 1 is fed by parent 0 (a diamond): capacity 2 each, a window of 5 items.
    const aligner = new TimeAligner([1, 1], spec({ collect: 'all', toleranceMs: 45, quorum: 1 }), {
      capacity: [2, 2],
      converging: [[1], [0]],
      onRelease: (parent, envelope, how) => released.push(`${parent}:${envelope.kind === 'data' ? String(envelope.value) : 'end'}:${how}`),
    });
    aligner.push(0, at(0, 'a0'));
    aligner.push(0, at(10, 'a1'));
    // Full by its room, but not settled by it: parent 0 lends it back and may send on.
    expect(aligner.take()).toBeUndefined();
    expect(released).toEqual(['0:a0:taken', '0:a1:taken']);
    expect(aligner.canAccept(0, at(20), 2)).toBe(true);
    for (const time of [20, 30, 40, 50]) aligner.push(0, at(time, `a${time / 10}`));
    aligner.push(1, at(0, 'b0'));
    expect(aligner.take()).toBeUndefined();
    // Parent 1 can still add to the window: its room and that of parent 0, which feeds it, go back.
    expect(released).toEqual(['0:a0:taken', '0:a1:taken', '1:b0:taken', '0:a2:taken', '0:a3:taken', '0:a4:taken', '0:a5:taken']);
    expect(aligner.canAccept(0, at(60), 2)).toBe(true);
    for (const time of [10, 20, 30, 40, 50]) aligner.push(1, at(time, `b${time / 10}`));
    expect(aligner.take()).toMatchObject({
      values: [
        ['a0', 'a1', 'a2', 'a3', 'a4'],
        ['b0', 'b1', 'b2', 'b3', 'b4'],
      ],
    });
    // Each room went back once.
    expect(released.filter((entry) => entry.startsWith('0:a0') || entry.startsWith('1:b0'))).toHaveLength(2);
    aligner.push(0, end());
    aligner.push(1, end());
    expect(drain(aligner)).toEqual([[['a5'], ['b5']], 'end']);
    expect(new Set(released).size).toBe(released.length);
    expect(released).toHaveLength(12);
  });

  it("lends the room of a converging parent that has settled the open group (collect 'first') while the other cannot yet", () => {
    const released: string[] = [];
    const aligner = new TimeAligner([1, 1], spec({ toleranceMs: 45, quorum: 2 }), {
      capacity: [1, 1],
      converging: [[1], [0]],
      onRelease: (parent, envelope, how) => released.push(`${parent}:${envelope.kind === 'data' ? String(envelope.value) : 'end'}:${how}`),
    });
    // a0 settles parent 0 for the group (its first item), and fills its room; parent 1 waits for
    // what parent 0 sends next (it feeds parent 1): a0's room goes back.
    aligner.push(0, at(0, 'a0'));
    expect(aligner.take()).toBeUndefined();
    expect(released).toEqual(['0:a0:taken']);
    expect(aligner.canAccept(0, at(10), 1)).toBe(true);
    aligner.push(0, at(10, 'a1'));
    aligner.push(1, at(10, 'b1'));
    expect(aligner.take()).toMatchObject({ values: ['a0', 'b1'] });
    expect(released).toEqual(['0:a0:taken', '1:b1:taken']);
  });

  it('lends the room of a replicated parent that can still add to the open group, up to its edge’s capacity', () => {
    const released: string[] = [];
    // Parent 1 runs as 3 tasks (capacity 2 × 3). Between processes each task has room for 2 of
    // them: one that sent b0 and b1 and now holds b2 can send nothing until that room comes back,
    // although its edge is not full (a full edge closes the group): the join waited for ever.
    const aligner = new TimeAligner([1, 3], spec({ collect: 'all', toleranceMs: 100, quorum: 1 }), {
      capacity: [2, 6],
      onRelease: (parent, envelope, how) => released.push(`${parent}:${envelope.kind === 'data' ? String(envelope.value) : 'end'}:${how}`),
    });
    aligner.push(0, at(0, 'a0'));
    aligner.push(0, at(10, 'a1'));
    aligner.push(1, at(0, 'b0', 0));
    aligner.push(1, at(10, 'b1', 1));
    aligner.push(1, at(30, 'b3', 3));
    expect(aligner.take()).toBeUndefined();
    // Parent 0 is full (settled); parent 1 is not, and it may be waiting for that room.
    expect(released).toEqual(['1:b0:taken', '1:b1:taken']);
    aligner.push(1, at(20, 'b2', 2));
    expect(aligner.take()).toBeUndefined();
    expect(released.slice(2)).toEqual(['1:b2:taken', '1:b3:taken']);
    // What was lent still counts against the edge: with 6 held, it is full and the group closes.
    aligner.push(1, at(40, 'b4', 4));
    aligner.push(1, at(50, 'b5', 5));
    expect(aligner.take()).toMatchObject({
      values: [
        ['a0', 'a1'],
        ['b0', 'b1', 'b2', 'b3', 'b4', 'b5'],
      ],
    });
    aligner.push(1, at(60, 'b6', 6));
    aligner.push(0, end());
    for (let task = 0; task < 3; task++) aligner.push(1, end());
    expect(drain(aligner)).toEqual([[undefined, ['b6']], 'end']);
    // Each room went back once.
    expect(new Set(released).size).toBe(released.length);
    expect(released).toHaveLength(9);
  });

  it('keeps each message’s room until its group closes (batch) and reports every release once', () => {
    const released: Array<[number, ReleaseKind]> = [];
    const aligner = new TimeAligner([1, 1], spec({ quorum: 2 }), { onRelease: (parent, _envelope, how) => released.push([parent, how]) });
    aligner.push(0, at(0));
    aligner.push(0, at(20));
    expect(released).toEqual([]);
    aligner.push(1, at(21));
    drain(aligner);
    expect(released).toEqual([
      [0, 'discarded'],
      [0, 'taken'],
      [1, 'taken'],
    ]);
  });
});

describe('TimeAligner (realtime: event time plus a wall-clock timeout)', () => {
  it('releases a partial group once the timeout has passed since its first arrival', () => {
    const clock = manualClock();
    const aligner = new TimeAligner([1, 1], spec({ quorum: 1 }), { clock, policy: 'freshest' });
    aligner.push(0, at(0, 'a0'));
    expect(aligner.take()).toBeUndefined();
    expect(aligner.nextDeadline()).toBe(250);
    clock.advance(249);
    expect(aligner.take()).toBeUndefined();
    clock.advance(1);
    expect(aligner.take()).toMatchObject({ values: ['a0', undefined] });
    expect(aligner.nextDeadline()).toBeUndefined();
    // b0 arrives after its group closed: late, dropped.
    aligner.push(1, at(-1, 'b0'));
    expect(aligner.droppedByParent).toEqual([0, 1]);
  });

  it('drops a timed-out group below the quorum', () => {
    const clock = manualClock();
    const aligner = new TimeAligner([1, 1], spec(), { clock, policy: 'freshest' });
    aligner.push(0, at(0, 'a0'));
    clock.advance(300);
    expect(aligner.take()).toBeUndefined();
    expect(aligner.joinGroups()).toEqual({ complete: 0, partial: 0, dropped: 1 });
  });

  it('keeps a partial group and a complete one that one arrival settles together (queueSize 1)', () => {
    const aligner = new TimeAligner([1, 1], spec({ quorum: 1 }), { policy: 'freshest', capacity: [1, 1] });
    aligner.push(1, at(0, 'b0'));
    aligner.push(0, at(0, 'a0'));
    expect(drain(aligner)).toEqual([['a0', 'b0']]);
    // b has no frame at 20; a's 20 and 40 wait until b's 40 shows b has passed 20.
    aligner.push(0, at(20, 'a20'));
    aligner.push(0, at(40, 'a40'));
    aligner.push(1, at(40, 'b40'));
    expect(drain(aligner)).toEqual([
      ['a20', undefined],
      ['a40', 'b40'],
    ]);
    expect(aligner.joinGroups()).toEqual({ complete: 2, partial: 1, dropped: 0 });
  });

  it('gives room back on arrival and keeps at most the edges’ capacity of closed groups, the freshest', () => {
    const released: ReleaseKind[] = [];
    const aligner = new TimeAligner([1, 1], spec(), {
      policy: 'freshest',
      capacity: [1, 1],
      onRelease: (_parent, _envelope, how) => released.push(how),
    });
    for (const t of [0, 20, 40]) {
      aligner.push(0, at(t, `a${t}`));
      aligner.push(1, at(t + 1, `b${t}`));
    }
    expect(released).toEqual(Array(6).fill('taken'));
    expect(drain(aligner)).toEqual([
      ['a20', 'b20'],
      ['a40', 'b40'],
    ]);
    expect(aligner.joinGroups()).toEqual({ complete: 2, partial: 0, dropped: 1 });
    expect(aligner.droppedByParent).toEqual([1, 1]);
  });
});

describe('convergingParents', () => {
  /** Plan nodes from `[name, parents, join?]`, in order (`'time'`: quorum every parent; `'time1'`: quorum 1). */
  const plan = (...nodes: Array<[string, number[], ('time' | 'time1')?]>): PlannedNode[] =>
    nodes.map(([name, parents, join], index) => ({
      index,
      name,
      kind: parents.length === 0 ? 'producer' : 'processor',
      parents,
      children: nodes.flatMap(([, others], child) => (others.includes(index) ? [child] : [])),
      nbTasks: 1,
      deviceType: 'cpu',
      requiresGpu: false,
      ...(join === undefined ? {} : { join: spec(join === 'time1' ? { quorum: 1 } : {}) }),
    }));

  it('pairs a parent with one it feeds, and two parents fed by one node, through any number of hops', () => {
    // p -> r -> j(p, r): direct.
    expect(convergingParents(plan(['p', []], ['r', [0]], ['j', [0, 1], 'time']), 2)).toEqual([[1], [0]]);
    // src -> a -> b, src -> c; j(b, c, other): b and c converge, other does not.
    const nodes = plan(['src', []], ['other', []], ['a', [0]], ['b', [2]], ['c', [0]], ['j', [3, 4, 1], 'time']);
    expect(convergingParents(nodes, 5)).toEqual([[1], [0], []]);
  });

  it('timeJoinAlignerOptions: a time join gets its spec, room per edge (queue × the parent’s tasks) and converging parents; another node nothing', () => {
    const nodes = plan(['p', []], ['r', [0]], ['j', [0, 1], 'time']).map((node) => (node.name === 'r' ? { ...node, nbTasks: 3 } : node));
    expect(timeJoinAlignerOptions(nodes, 2, 4)).toEqual({ join: nodes[2]?.join, capacity: [4, 12], converging: [[1], [0]] });
    expect(timeJoinAlignerOptions(nodes, 1, 4)).toEqual({});
  });

  it('through time joins of any quorum (one message or marker per group closed), not for independent parents', () => {
    // p -> t(p, q) by time -> j(p, t): t sends a marker for each group it drops below its quorum 2.
    expect(convergingParents(plan(['p', []], ['q', []], ['t', [0, 1], 'time'], ['j', [0, 2], 'time']), 3)).toEqual([[1], [0]]);
    expect(convergingParents(plan(['p', []], ['q', []], ['t', [0, 1], 'time1'], ['j', [0, 2], 'time']), 3)).toEqual([[1], [0]]);
    // An origin join on the way ties them still: it sends one set per origin.
    expect(convergingParents(plan(['p', []], ['q', []], ['o', [0, 1]], ['j', [0, 2], 'time']), 3)).toEqual([[1], [0]]);
    expect(convergingParents(plan(['p', []], ['q', []], ['j', [0, 1], 'time']), 2)).toEqual([[], []]);
  });
});

describe('createNodeAligner and eventTime', () => {
  it('aligns by origin without a join, by event time with one', () => {
    expect(createNodeAligner([1, 1])).not.toBeInstanceOf(TimeAligner);
    expect(createNodeAligner([1, 1], { join: spec() })).toBeInstanceOf(TimeAligner);
  });

  it('reads the stamped timestamp, else the capture time', () => {
    const stamped = at(5);
    expect(stamped.kind === 'data' && eventTime(stamped.meta)).toBe(5);
    expect(eventTime({ seq: 0, ticket: 0, node: 'p', taskIndex: 0, proctimeMs: 0, actualProctimeMs: 0, createdAt: 42 })).toBe(42);
  });
});

describe('TimeAligner (realtime): the contract as properties over random interleavings', () => {
  // Two or three cameras of 1-3 replicas each, frames lost upstream at random, arrivals, takes and
  // wall time interleaved at random, every collect, tolerance and quorum: no timing, same runs each time.
  it('groups come in order, within the tolerance and the quorum; every frame is grouped or counted; room goes back once; the end comes once', () => {
    const collects: JoinCollect[] = ['first', 'last', 'all'];
    for (let trial = 0; trial < 400; trial++) {
      const random = seeded(trial + 7);
      const pick = (n: number) => Math.floor(random() * n);
      const replicas = Array.from({ length: 2 + pick(2) }, () => 1 + pick(3));
      const queueSize = 1 + pick(2);
      const joinSpec = spec({
        toleranceMs: pick(15),
        timeoutMs: 5 + pick(50),
        quorum: 1 + pick(replicas.length),
        collect: collects[pick(3)] as JoinCollect,
      });
      const clock = manualClock();
      const roomBack = new Map<Envelope, number>();
      const aligner = new TimeAligner(replicas, joinSpec, {
        policy: 'freshest',
        clock,
        capacity: replicas.map((count) => queueSize * count),
        onRelease: (_parent, envelope) => roomBack.set(envelope, (roomBack.get(envelope) ?? 0) + 1),
      });
      // Frame `slot` of camera `parent` is stamped slot × 5 + parent ms (distinct times per camera).
      const streams = replicas.map((count, parent) => {
        const lists: Envelope[][] = Array.from({ length: count }, () => []);
        for (let slot = 0; slot < 1 + pick(30); slot++)
          if (random() < 0.8) lists[pick(count)]?.push(at(slot * 5 + parent, slot * 5 + parent, slot));
        return lists.map((list) => [...list, end()]);
      });
      const pushed = replicas.map(() => 0);
      const grouped = replicas.map(() => 0);
      const lastTime = replicas.map(() => Number.NEGATIVE_INFINITY);
      let lastSeq = -1;
      let ends = 0;
      const take = () => {
        const set = aligner.take();
        if (set?.kind === 'end') ends += 1;
        if (set?.kind !== 'data') return;
        expect(ends).toBe(0);
        expect(set.seq).toBeGreaterThan(lastSeq);
        lastSeq = set.seq;
        const times: number[] = [];
        for (const [parent, value] of set.values.entries()) {
          for (const time of value === undefined ? [] : Array.isArray(value) ? value : [value]) {
            // Each camera's frames leave once, in event-time order.
            expect(time).toBeGreaterThan(lastTime[parent] as number);
            lastTime[parent] = time as number;
            grouped[parent] = (grouped[parent] ?? 0) + 1;
            times.push(time as number);
          }
        }
        expect(set.values.filter((value) => value !== undefined).length).toBeGreaterThanOrEqual(joinSpec.quorum ?? replicas.length);
        expect(Math.max(...times) - Math.min(...times)).toBeLessThanOrEqual(joinSpec.toleranceMs);
      };
      for (;;) {
        const open = streams.flatMap((lists, parent) => lists.filter((list) => list.length > 0).map((list) => ({ parent, list })));
        if (open.length === 0) break;
        const step = random();
        if (step < 0.3) take();
        else if (step < 0.4) clock.advance(pick(20));
        else {
          const { parent, list } = open[pick(open.length)] as { parent: number; list: Envelope[] };
          const envelope = list.shift() as Envelope;
          if (envelope.kind === 'data') pushed[parent] = (pushed[parent] ?? 0) + 1;
          aligner.push(parent, envelope);
        }
      }
      for (let step = 0; ends === 0 && step < 1000; step++) {
        clock.advance(10);
        take();
      }
      expect(ends).toBe(1);
      expect(pushed).toEqual(grouped.map((count, parent) => count + (aligner.droppedByParent[parent] ?? 0)));
      expect([...roomBack.values()].every((count) => count === 1)).toBe(true);
      expect(roomBack.size).toBe(pushed.reduce((total, count) => total + count, 0));
    }
  });
});
