import { defineFlow, Flow, ProducerNode, timestamped } from '../../index.js';
import { FileAppenderConsumer, JoinerProcessor } from '../../nodes.js';

/** 0..end, item k stamped with event time k × 10 ms. */
class Stamped extends ProducerNode<number> {
  constructor(
    private readonly end: number,
    options: { name: string },
  ) {
    super(options);
  }

  *produce() {
    for (let item = 0; item <= this.end; item++) yield timestamped(item, item * 10);
  }
}

/**
 * Two producers of different lengths joined by origin (`pair`; by time with `pairJoin: 'time'`), and the longer one joined again
 * with that join's output downstream (`again`: by origin, or by event time with `join: 'time'`),
 * which writes each set as a JSON line. `pair` can pair nothing once `short` has ended, while
 * `long` still fills `again`'s queue: its end must go out then, not when `long` ends.
 */
export default defineFlow(
  (params: {
    shortEnd: number;
    longEnd: number;
    out: string;
    join?: 'origin' | 'time';
    pairJoin?: 'origin' | 'time';
    nbTasks?: number;
  }) => {
    const short = new Stamped(params.shortEnd, { name: 'short' });
    const long = new Stamped(params.longEnd, { name: 'long' });
    // By time (both parents in each group): it can release nothing more once `short` has ended either.
    const pair =
      params.pairJoin === 'time'
        ? new JoinerProcessor({ name: 'pair', join: { mode: 'time', toleranceMs: 0 } }).from(short, long)
        : new JoinerProcessor({ name: 'pair', nbTasks: params.nbTasks ?? 1 }).from(short, long);
    const again =
      params.join === 'time'
        ? new FileAppenderConsumer(params.out, { name: 'again', join: { mode: 'time', toleranceMs: 25, quorum: 2, collect: 'all' } }).from(
            pair,
            long,
          )
        : new FileAppenderConsumer(params.out, { name: 'again' }).from(pair, long);
    return new Flow([short, long], [again]);
  },
);
