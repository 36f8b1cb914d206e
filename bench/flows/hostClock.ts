/**
 * Milliseconds on the host's monotonic clock (`CLOCK_MONOTONIC`, which every process on one host
 * reads alike), with sub-millisecond precision: what one task stamps, another on the same host can
 * subtract from. (`performance.timeOrigin` is each process's own estimate of its start in wall time.)
 */
export function hostNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
