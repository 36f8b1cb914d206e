import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { nativeHelper } from '../nativeHelper.js';
import { AbortedError, EventLoopWatch, eventLoopWatch, LoopTurnWatch, MAX_TIMER_MS, Notifier, sleep } from './waiting.js';

const oldGenerationUsed = () => getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')?.space_used_size ?? 0;

describe('EventLoopWatch', () => {
  it('says a loop that has not let the event loop turn for maxBusyMs is starving, and not before', () => {
    let now = 0;
    const watch = new EventLoopWatch(4, () => now);
    expect(watch.starving()).toBe(false); // schedules the marker
    now = 4;
    expect(watch.starving()).toBe(false);
    now = 4.5;
    expect(watch.starving()).toBe(true);
  });

  it('after a turn of the event loop the count starts again', async () => {
    let now = 0;
    const watch = new EventLoopWatch(4, () => now);
    watch.starving();
    now = 10;
    expect(watch.starving()).toBe(true);
    await watch.turn();
    // The marker ran during the turn: the loop is healthy again until a new marker waits too long.
    expect(watch.starving()).toBe(false);
    now = 12;
    expect(watch.starving()).toBe(false);
    now = 14.5;
    expect(watch.starving()).toBe(true);
  });

  it('a loop that awaits timers on its own is never told to yield', async () => {
    const watch = new EventLoopWatch(4);
    for (let index = 0; index < 5; index++) {
      expect(watch.starving()).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});

describe('LoopTurnWatch', () => {
  it('says starving only when no turn came for maxBusyMs, counting from the last turn', () => {
    let now = 100;
    const turns = new Float64Array([7, 100]);
    const watch = new LoopTurnWatch(turns, () => now, 4);
    now = 150;
    // The first question after a turn: not starving, whenever that turn came (a marker scheduled now would not have run yet either).
    expect(watch.starving()).toBe(false);
    expect(watch.starving()).toBe(true);
    turns[0] = 8;
    turns[1] = 151;
    now = 152;
    expect(watch.starving()).toBe(false);
    now = 155;
    expect(watch.starving()).toBe(false);
    now = 155.5;
    expect(watch.starving()).toBe(true);
  });

  it.runIf(nativeHelper()?.watchLoopTurns !== undefined)(
    'counts the real loop: a synchronous loop is told to yield, and a turn ends it',
    async () => {
      const watch = eventLoopWatch();
      expect(watch).toBeInstanceOf(LoopTurnWatch);
      await watch.turn();
      expect(watch.starving()).toBe(false);
      const busyUntil = performance.now() + 6;
      while (performance.now() < busyUntil) {
        // a synchronous producer
      }
      expect(watch.starving()).toBe(true);
      await watch.turn();
      expect(watch.starving()).toBe(false);
      expect(watch.starving()).toBe(false);
      for (let index = 0; index < 3; index++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        expect(watch.starving()).toBe(false);
      }
    },
  );
});

describe('Notifier', () => {
  it('wakes every waiter on notify, and only those waiting then', async () => {
    const notifier = new Notifier();
    const woken: string[] = [];
    const first = notifier.wait().then(() => woken.push('first'));
    const second = notifier.wait(new AbortController().signal).then(() => woken.push('second'));
    notifier.notify();
    await Promise.all([first, second]);
    expect(woken.sort()).toEqual(['first', 'second']);
    let late = false;
    void notifier.wait().then(() => {
      late = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(late).toBe(false);
  });

  it('rejects the waits its signal bounds when it aborts, and keeps the others waiting', async () => {
    const notifier = new Notifier();
    const aborting = new AbortController();
    const other = new AbortController();
    const bounded = [notifier.wait(aborting.signal), notifier.wait(aborting.signal)];
    let otherSettled = false;
    const unbounded = notifier.wait(other.signal).finally(() => {
      otherSettled = true;
    });
    aborting.abort();
    for (const wait of bounded) await expect(wait).rejects.toBeInstanceOf(AbortedError);
    await new Promise((resolve) => setImmediate(resolve));
    expect(otherSettled).toBe(false);
    await expect(notifier.wait(aborting.signal)).rejects.toBeInstanceOf(AbortedError);
    notifier.notify();
    await unbounded;
  });

  it('listens to a signal once however often, and from however many notifiers, it is waited on', async () => {
    const notifiers = Array.from({ length: 12 }, () => new Notifier());
    const controller = new AbortController();
    let listeners = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners += 1;
      add(...args);
    }) as typeof add;
    for (let round = 0; round < 5; round++) {
      for (const notifier of notifiers) {
        const wait = notifier.wait(controller.signal);
        notifier.notify();
        await wait;
      }
    }
    // Node warns past 10 listeners on one signal: a flow of a dozen edges must not.
    expect(listeners).toBe(1);
    const waits = notifiers.map((notifier) => notifier.wait(controller.signal));
    controller.abort();
    for (const wait of waits) await expect(wait).rejects.toBeInstanceOf(AbortedError);
  });

  it('rejects on abort exactly the waits still pending, whichever order the others ended in', async () => {
    const notifiers = Array.from({ length: 9 }, () => new Notifier());
    const controller = new AbortController();
    const outcomes: string[] = new Array(notifiers.length);
    const waits = notifiers.map((notifier, index) =>
      notifier.wait(controller.signal).then(
        () => {
          outcomes[index] = 'woken';
        },
        (error: unknown) => {
          outcomes[index] = error instanceof AbortedError ? 'aborted' : String(error);
        },
      ),
    );
    // Out of order, so that ending waits move others around in the signal's bookkeeping.
    for (const index of [4, 0, 8, 5, 1]) notifiers[index]?.notify();
    controller.abort();
    for (const notifier of notifiers) notifier.notify(); // after the abort: changes nothing
    await Promise.all(waits);
    expect(outcomes).toEqual(['woken', 'woken', 'aborted', 'aborted', 'woken', 'woken', 'aborted', 'aborted', 'woken']);
  });

  it('leaves no garbage in the old generation as waits on a long-lived signal come and go', async () => {
    // What a task does on every wake-up, for as long as it runs (the soak's relay grew by it).
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    const notifier = new Notifier();
    const controller = new AbortController();
    // A long-running task's bookkeeping lives in the old generation: collected while a wait is pending.
    const first = notifier.wait(controller.signal);
    collect();
    collect();
    notifier.notify();
    await first;
    collect();
    const before = oldGenerationUsed();
    for (let round = 0; round < 20_000; round++) {
      const wait = notifier.wait(controller.signal);
      notifier.notify();
      await wait;
    }
    // A Set there made V8 allocate a new table in the old generation per wait: ~2.2 MB here.
    expect(oldGenerationUsed() - before).toBeLessThan(512 * 1024);
  });
});

describe('sleep', () => {
  it('waits longer than one Node timer can (a producer at fps 1e-7), in several timers, and an abort still ends it', async () => {
    vi.useFakeTimers();
    try {
      let slept = false;
      void sleep(MAX_TIMER_MS + 5_000).then(() => {
        slept = true;
      });
      // Node would fire one timer of that length after 1 ms.
      await vi.advanceTimersByTimeAsync(1_000);
      expect(slept).toBe(false);
      await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
      expect(slept).toBe(false);
      await vi.advanceTimersByTimeAsync(4_000);
      expect(slept).toBe(true);

      const controller = new AbortController();
      let aborted = false;
      void sleep(3 * MAX_TIMER_MS, controller.signal).then(() => {
        aborted = true;
      });
      await vi.advanceTimersByTimeAsync(MAX_TIMER_MS + 1);
      expect(aborted).toBe(false);
      controller.abort();
      await vi.advanceTimersByTimeAsync(0);
      expect(aborted).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
