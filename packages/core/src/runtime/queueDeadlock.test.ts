import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PROBE_GAP_MS, QueueDeadlockWatch, type QueueWait } from './queueDeadlock.js';

/** One gap between probe rounds (their answers come in microtasks here). */
const gap = () => vi.advanceTimersByTimeAsync(PROBE_GAP_MS);

/** Three tasks that answer probes with whatever `state` says of them now. */
function setUp(keys: string[] = ['camera', 'detector', 'join']) {
  const state = new Map<string, QueueWait>();
  const probes: string[] = [];
  const lent: string[] = [];
  let stuck = 0;
  let live = [...keys];
  const watch = new QueueDeadlockWatch<string>({
    live: () => live,
    taskId: (key) => keys.indexOf(key),
    probe: (key) => {
      probes.push(key);
      // Tasks answer through the control channel, later.
      queueMicrotask(() => watch.probed(key, state.get(key) ?? { moved: 0 }));
    },
    lend: (key) => lent.push(key),
    stuck: () => {
      stuck += 1;
    },
  });
  /** Two periodic reports of the same wait: the task stayed still over a stats period. */
  const report = (key: string, wait: QueueWait) => {
    state.set(key, wait);
    watch.reported(key, wait);
    watch.reported(key, wait);
  };
  return {
    watch,
    state,
    probes,
    lent,
    report,
    stuck: () => stuck,
    leave: (key: string) => {
      live = live.filter((one) => one !== key);
      watch.left(key);
    },
  };
}

describe("QueueDeadlockWatch (Parks' rule, across processes)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('probes once every task reports waiting twice without moving, lends after two rounds in which none moved, and probes on', async () => {
    const { watch, probes, lent, report } = setUp();
    report('camera', { on: 'room', child: 'join', moved: 40 });
    report('detector', { on: 'input', moved: 12 });
    expect(probes).toEqual([]); // the join has not said it waits
    report('join', { on: 'input', moved: 52 });
    expect(probes).toEqual(['camera', 'detector', 'join']);
    await vi.advanceTimersByTimeAsync(0);
    expect(lent).toEqual([]); // one round says nothing of what is in flight
    await gap();
    expect(probes).toHaveLength(6);
    expect(lent).toEqual(['camera']);
    expect(watch.lent).toBe(1);
    // It keeps probing after a loan: the next deadlock may come at once.
    await gap();
    expect(probes).toHaveLength(9);
    watch.close();
  });

  it('never probes a flow whose tasks move between their periodic reports, even when each report says it waits', async () => {
    const { watch, probes } = setUp();
    for (let moved = 0; moved < 10; moved++) {
      watch.reported('camera', { on: 'room', child: 'join', moved });
      watch.reported('detector', { on: 'input', moved });
      watch.reported('join', { on: 'input', moved });
    }
    await vi.advanceTimersByTimeAsync(1_000);
    expect(probes).toEqual([]);
    watch.close();
  });

  it('lends nothing when a task moved between the rounds, and stops probing then', async () => {
    const { watch, state, probes, lent, report } = setUp();
    report('camera', { on: 'room', child: 'join', moved: 40 });
    report('detector', { on: 'input', moved: 12 });
    report('join', { on: 'input', moved: 52 });
    await vi.advanceTimersByTimeAsync(0);
    state.set('join', { on: 'input', moved: 53 }); // it took an input meanwhile
    await gap();
    expect(lent).toEqual([]);
    const probed = probes.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(probes).toHaveLength(probed);
    expect(lent).toEqual([]);
    watch.close();
  });

  it('lends nothing while a message or room is on its way: the two ends of an edge count different room on it', async () => {
    // camera (0) → detector (1) → join (2); camera waits for room at the detector, which waits for
    // room at the join, which waits for input: a chain, where no deadlock can be.
    const { watch, state, probes, lent, report } = setUp();
    const camera = (sent: number): QueueWait => ({
      on: 'room',
      child: 'detector',
      moved: 40,
      rooms: { toChildren: [[1, 16 - sent]], fromParents: [] },
    });
    const detector = (toJoin: number): QueueWait => ({
      on: 'room',
      child: 'join',
      moved: 12,
      rooms: { toChildren: [[2, toJoin]], fromParents: [[0, 0]] },
    });
    const join = (fromDetector: number): QueueWait => ({
      on: 'input',
      moved: 52,
      rooms: { toChildren: [], fromParents: [[1, fromDetector]] },
    });
    // 16 large messages sent by the detector, 8 of them not in yet: it counts 0 room, the join 8.
    report('camera', camera(16));
    report('detector', detector(0));
    report('join', join(8));
    for (let round = 0; round < 6; round++) await gap();
    expect(probes.length).toBeGreaterThanOrEqual(6);
    expect(lent).toEqual([]);
    // Room handed back and not taken yet is on its way too: the join counts 16, the detector 8.
    state.set('detector', detector(8));
    state.set('join', join(16));
    report('camera', camera(16));
    for (let round = 0; round < 4; round++) await gap();
    expect(lent).toEqual([]);
    // Both ends agree, and still nobody moves: that is a deadlock, and it is broken.
    state.set('detector', detector(0));
    state.set('join', join(0));
    report('camera', camera(16));
    await gap();
    await gap();
    expect(lent).toEqual(['camera']);
    watch.close();
  });

  it('does not say the flow is stuck while a message is on its way', async () => {
    const { watch, report, stuck } = setUp(['a', 'b']);
    report('a', { on: 'input', moved: 3, rooms: { toChildren: [[1, 3]], fromParents: [] } });
    report('b', { on: 'input', moved: 3, rooms: { toChildren: [], fromParents: [[0, 4]] } });
    await gap();
    await gap();
    expect(stuck()).toBe(0);
    watch.close();
  });

  it('takes the publishers waiting for room in turn', async () => {
    const { watch, lent, report } = setUp();
    report('camera', { on: 'room', child: 'join', moved: 40 });
    report('detector', { on: 'room', child: 'join', moved: 12 });
    report('join', { on: 'input', moved: 52 });
    // Nothing moves in this test: every second round lends again.
    for (let round = 0; round < 8; round++) await gap();
    expect(lent.length).toBeGreaterThanOrEqual(3);
    expect(lent.slice(0, 4)).toEqual(['camera', 'detector', 'camera', 'detector'].slice(0, Math.min(4, lent.length)));
    watch.close();
  });

  it('counts a task waiting for its children to take its end as waiting', async () => {
    const { watch, lent, report } = setUp(['camera', 'join']);
    report('camera', { on: 'end', moved: 121 });
    report('join', { on: 'room', child: 'sink', moved: 80 });
    await gap();
    await gap();
    expect(lent).toEqual(['join']);
    watch.close();
  });

  it('gives a round up when a task does not answer (it runs synchronous code): nothing is lent', async () => {
    const { watch, probes, lent } = setUp();
    const silent = new QueueDeadlockWatch<string>({
      live: () => ['a', 'b'],
      taskId: (key) => (key === 'a' ? 0 : 1),
      probe: (key) => probes.push(key),
      lend: (key) => lent.push(key),
      stuck: () => undefined,
    });
    for (let times = 0; times < 2; times++) {
      silent.reported('a', { on: 'room', child: 'b', moved: 1 });
      silent.reported('b', { on: 'input', moved: 1 });
    }
    silent.probed('a', { on: 'room', child: 'b', moved: 1 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(probes).toEqual(['a', 'b']);
    expect(lent).toEqual([]);
    silent.close();
    watch.close();
  });

  it('completes a round without a task that finished meanwhile', async () => {
    const { watch, lent, report, leave, state } = setUp();
    report('camera', { on: 'room', child: 'join', moved: 40 });
    report('detector', { on: 'input', moved: 12 });
    report('join', { on: 'input', moved: 52 });
    state.delete('detector');
    leave('detector');
    await gap();
    await gap();
    expect(lent).toEqual(['camera']);
    watch.close();
  });

  it('says the flow is stuck when every task waits for input, once, and probes no more', async () => {
    const { watch, probes, lent, report, stuck } = setUp(['a', 'b']);
    report('a', { on: 'input', moved: 3 });
    report('b', { on: 'input', moved: 3 });
    await gap();
    await gap();
    expect(stuck()).toBe(1);
    expect(lent).toEqual([]);
    const probed = probes.length;
    report('a', { on: 'input', moved: 3 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(probes).toHaveLength(probed);
    watch.close();
  });
});
