import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, setLongTimeout } from './longTimeout.js';

describe('setLongTimeout', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits a delay longer than a Node timer takes (600 h) instead of firing at once', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const delay = 600 * 3_600_000;
    expect(delay).toBeGreaterThan(MAX_TIMER_MS);
    setLongTimeout(fired, delay);
    vi.advanceTimersByTime(1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(delay - MAX_TIMER_MS - 2);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('fires a short delay once, and never once cancelled (also between its steps)', () => {
    vi.useFakeTimers();
    const short = vi.fn();
    setLongTimeout(short, 50);
    vi.advanceTimersByTime(50);
    expect(short).toHaveBeenCalledTimes(1);
    const long = vi.fn();
    const cancel = setLongTimeout(long, 2 * MAX_TIMER_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS + 10);
    cancel();
    vi.advanceTimersByTime(2 * MAX_TIMER_MS);
    expect(long).not.toHaveBeenCalled();
  });
});
