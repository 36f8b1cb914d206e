import { describe, expect, it } from 'vitest';
import { SegmentMappingPolicy } from './segmentMapping.js';

const MB = 1024 * 1024;
const FRAME = 6 * MB;

/** A policy that has seen one of each price, in ms for a {@link FRAME}. */
function policyWith(prices: { firstCopy?: number; write?: number; mappedCopy?: number }): SegmentMappingPolicy {
  const policy = new SegmentMappingPolicy();
  if (prices.firstCopy !== undefined) policy.recordFirstCopy(FRAME, prices.firstCopy);
  if (prices.write !== undefined) policy.recordWrite(FRAME, prices.write);
  if (prices.mappedCopy !== undefined) policy.recordMappedCopy(FRAME, prices.mappedCopy);
  return policy;
}

/** The first number of rented writes after which the policy maps (up to 1,000). */
function mapsAfter(policy: SegmentMappingPolicy): number | undefined {
  for (let rented = 0; rented <= 1000; rented++) if (policy.shouldMap(rented)) return rented;
  return undefined;
}

describe('SegmentMappingPolicy', () => {
  it('maps the first segment it is asked about, then writes one to learn what a write costs', () => {
    const policy = new SegmentMappingPolicy();
    expect(policy.shouldMap(0)).toBe(true);
    policy.recordFirstCopy(FRAME, 15);
    expect(policy.shouldMap(0)).toBe(false);
    expect(policy.shouldMap(500)).toBe(false);
  });

  it('writes until the writes have cost what a mapping costs beyond a mapped copy (ski rental)', () => {
    // A VM where a mapping's first copy costs 15 ms, a write 1 ms, a mapped copy 0.35 ms:
    // 0.65 ms lost per write, 14.65 ms to earn back: map after 23 writes.
    expect(mapsAfter(policyWith({ firstCopy: 15, write: 1, mappedCopy: 0.35 }))).toBe(23);
    // A machine where a first copy costs little more than the others: map almost at once.
    expect(mapsAfter(policyWith({ firstCopy: 1.5, write: 1, mappedCopy: 0.35 }))).toBe(2);
    // Before any mapped copy was timed, one counts as free.
    expect(mapsAfter(policyWith({ firstCopy: 15, write: 1 }))).toBe(15);
  });

  it('never maps where a write costs no more than a mapped copy', () => {
    expect(mapsAfter(policyWith({ firstCopy: 5, write: 0.3, mappedCopy: 0.3 }))).toBeUndefined();
    expect(mapsAfter(policyWith({ firstCopy: 5, write: 0.2, mappedCopy: 0.3 }))).toBeUndefined();
  });

  it('prices per byte: what 1 MB segments cost applies to 6 MB ones', () => {
    const small = new SegmentMappingPolicy();
    small.recordFirstCopy(MB, 15 / 6);
    small.recordWrite(MB, 1 / 6);
    small.recordMappedCopy(MB, 0.35 / 6);
    expect(mapsAfter(small)).toBe(23);
  });

  it('takes the median of recent measurements: one preempted copy does not steer it, a changed machine does', () => {
    const policy = policyWith({ write: 1, mappedCopy: 0.35 });
    for (const ms of [2, 2, 300]) policy.recordFirstCopy(FRAME, ms);
    expect(mapsAfter(policy)).toBe(3);
    for (let index = 0; index < 9; index++) policy.recordFirstCopy(FRAME, 15);
    expect(mapsAfter(policy)).toBe(23);
  });

  it('ignores measurements that are not durations', () => {
    const policy = policyWith({ firstCopy: 15, write: 1, mappedCopy: 0.35 });
    policy.recordWrite(FRAME, Number.NaN);
    policy.recordWrite(FRAME, -1);
    policy.recordFirstCopy(FRAME, Number.POSITIVE_INFINITY);
    expect(mapsAfter(policy)).toBe(23);
  });
});
