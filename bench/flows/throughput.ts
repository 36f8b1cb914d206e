import { writeFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow, ProducerNode } from '@vf/core';
import { IdentityProcessor } from '@vf/core/nodes';

interface Params {
  readonly count: number;
  /** 'small': a 5-field object; 'frame': a 1920×1080×3 Uint8Array. */
  readonly payload: 'small' | 'frame';
  readonly identities: number;
  readonly nbTasks: number;
  readonly out: string;
}

class Source extends ProducerNode<unknown> {
  constructor(private readonly params: Params) {
    super({ name: 'source' });
  }

  *produce() {
    // Frames are made once and re-sent: the benchmark measures transport, not allocation. Only for
    // frames: making one took ~20 ms before the first item of the start-up case, which sends small ones.
    const frame = this.params.payload === 'frame' ? new Uint8Array(1920 * 1080 * 3).fill(7) : undefined;
    for (let index = 0; index < this.params.count; index++) {
      yield frame !== undefined ? { index, data: frame } : { index, x: index * 2, y: 3.5, label: 'car', ok: true };
    }
  }
}

/** Items between two of the {@link Timer}'s marks: the warm-up curve of a run. */
export const MARK_EVERY = 10_000;

/**
 * Records wall-clock times of the first, the middle and the last item, and of every
 * {@link MARK_EVERY}th from the first; the parent computes rates from them.
 */
class Timer extends ConsumerNode<[unknown]> {
  readonly #marks: number[] = [];
  #first = 0;
  #half = 0;
  #last = 0;
  #count = 0;

  constructor(
    private readonly out: string,
    private readonly count: number,
  ) {
    super({ name: 'timer' });
  }

  consume(): void {
    const now = Date.now() + (performance.now() % 1);
    if (this.#count === 0) {
      this.#first = now;
      writeFileSync(`${this.out}.first`, String(now));
    }
    // From the first item on, so that this branch has run before the code is optimized.
    if (this.#count % MARK_EVERY === 0) this.#marks.push(now);
    this.#last = now;
    this.#count += 1;
    if (this.#count === Math.floor(this.count / 2)) this.#half = now;
  }

  override close(): void {
    writeFileSync(
      this.out,
      JSON.stringify({ first: this.#first, half: this.#half, last: this.#last, count: this.#count, marks: this.#marks }),
    );
  }
}

export default defineFlow((params: Params) => {
  const source = new Source(params);
  let last: IdentityProcessor | Source = source;
  for (let index = 0; index < params.identities; index++) {
    last = new IdentityProcessor({ name: `identity${index}`, nbTasks: index === 0 ? params.nbTasks : 1 }).from(last);
  }
  const timer = new Timer(params.out, params.count).from(last);
  return new Flow([source], [timer]);
});
