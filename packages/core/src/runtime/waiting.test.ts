import { describe, expect, it } from 'vitest';
import { EventLoopWatch } from './waiting.js';

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
