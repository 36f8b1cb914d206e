/**
 * When a frame sender maps a segment of its pool rather than write it with `pwrite` (see
 * `sharedFrames.ts`): a ski rental, with prices the sender measures as it goes.
 *
 * A copy into a mapped segment is the cheapest write (one streaming `memcpy`), but the first copy
 * through a new mapping pays for every page's first touch, and what that costs depends on the
 * machine far more than a copy does. On a 2-core cloud VM (2026-12), a 6 MB segment's map and first
 * copy took 10–20 ms where every later copy took 0.2–0.45 and a `pwrite` 0.5–1.5 (the kernel writes
 * through its own long-lived mapping): about 20 writes to earn a mapping back, where a 300-frame
 * chain reuses each of its ~30 segments ~10 times. On the same VM in other periods, and on bare
 * metal, the first copy costs little more than the others and mapping at once wins.
 *
 * So each segment is written with `pwrite` ("rented") until what those writes cost beyond mapped
 * copies reaches what a mapping costs beyond a mapped copy, then mapped ("bought"): never more than
 * twice the cost of the better choice made knowing the segment's future, whatever the machine.
 * Prices are medians of the last few measurements, per MB (wall clock: a preempted measurement
 * should not steer alone). Nothing known yet: the first segment reused is mapped (the price of a
 * mapping is learnt), then one is written (the price of a write).
 */
export class SegmentMappingPolicy {
  readonly #writes = new RecentMedian();
  readonly #firstCopies = new RecentMedian();
  readonly #mappedCopies = new RecentMedian();

  /** Whether to map a free segment that has been written with `pwrite` `rentedWrites` times since it was last created. */
  shouldMap(rentedWrites: number): boolean {
    const firstCopy = this.#firstCopies.value;
    if (firstCopy === undefined) return true;
    const write = this.#writes.value;
    if (write === undefined) return false;
    // Before the second copy into a mapped segment, a mapped copy counts as free: a lower bar to map.
    const mappedCopy = this.#mappedCopies.value ?? 0;
    const rent = write - mappedCopy;
    if (rent <= 0) return false;
    return rentedWrites * rent >= firstCopy - mappedCopy;
  }

  /** A frame of `bytes` written to its segment with `pwrite`, in `ms`. */
  recordWrite(bytes: number, ms: number): void {
    this.#writes.add(perMegabyte(bytes, ms));
  }

  /** A segment of `bytes` mapped and its first frame copied in, in `ms` together. */
  recordFirstCopy(bytes: number, ms: number): void {
    this.#firstCopies.add(perMegabyte(bytes, ms));
  }

  /** A frame of `bytes` copied into a segment mapped before, in `ms`. */
  recordMappedCopy(bytes: number, ms: number): void {
    this.#mappedCopies.add(perMegabyte(bytes, ms));
  }
}

function perMegabyte(bytes: number, ms: number): number {
  return (ms * 1024 * 1024) / Math.max(bytes, 1);
}

/** How many measurements of each price count: few, so that a machine that changes is followed. */
const SAMPLES = 9;

/** The median of the last {@link SAMPLES} values added. */
class RecentMedian {
  readonly #values: number[] = [];
  #next = 0;
  #median: number | undefined;

  get value(): number | undefined {
    return this.#median;
  }

  add(value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    if (this.#values.length < SAMPLES) this.#values.push(value);
    else this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % SAMPLES;
    const sorted = [...this.#values].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    this.#median = sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  }
}
