import type { LiveStats } from '@vf/core';

/**
 * Per-node rates from successive `flow.liveStats()` snapshots: items processed per second over the
 * last `windowMs`. `flow.liveStats()` gives counters; what a person watching wants is how fast each
 * node goes now, not its average since the start.
 */
export class RateMeter {
  readonly #windowMs: number;
  readonly #samples: Array<{ at: number; processed: Map<string, number> }> = [];

  constructor(windowMs = 1000) {
    this.#windowMs = windowMs;
  }

  /** Records a snapshot; returns each node's rate in items per second (0 until two snapshots exist). */
  add(stats: LiveStats): Map<string, number> {
    const at = stats.elapsedMs;
    this.#samples.push({ at, processed: new Map(stats.nodes.map((node) => [node.name, node.processed])) });
    while (this.#samples.length > 2 && at - (this.#samples[1]?.at ?? at) >= this.#windowMs) this.#samples.shift();
    const oldest = this.#samples[0];
    const rates = new Map<string, number>();
    for (const node of stats.nodes) {
      const span = oldest === undefined ? 0 : at - oldest.at;
      rates.set(node.name, span > 0 ? ((node.processed - (oldest?.processed.get(node.name) ?? 0)) * 1000) / span : 0);
    }
    return rates;
  }
}
