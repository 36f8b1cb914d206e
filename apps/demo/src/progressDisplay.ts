import type { Flow, FlowReport } from '@vf/core';
import { Presets, SingleBar } from 'cli-progress';
import type { FlowObserver, JobInfo } from './analyzeVideo.js';
import { RateMeter } from './rateMeter.js';

/** Options of {@link ProgressDisplay}. */
export interface ProgressDisplayOptions {
  /** Where to draw. Default `process.stdout`. */
  readonly stream?: NodeJS.WriteStream;
  /** A bar on a terminal, plain lines otherwise (CI logs, pipes). Default: `stream.isTTY`. */
  readonly bar?: boolean;
}

/**
 * Shows the job's progress from `flow.liveStats()`: frames read out of the total, frames written,
 * and each node's current rate. A redrawn bar (cli-progress) on a terminal; one plain line a second
 * elsewhere, since a redrawn bar in a log file is just noise.
 */
export class ProgressDisplay implements FlowObserver {
  readonly #stream: NodeJS.WriteStream;
  readonly #useBar: boolean;
  readonly #rates = new RateMeter();
  #timer: NodeJS.Timeout | undefined;
  #bar: SingleBar | undefined;
  #lastLine = 0;

  constructor(options: ProgressDisplayOptions = {}) {
    this.#stream = options.stream ?? process.stdout;
    this.#useBar = options.bar ?? this.#stream.isTTY === true;
  }

  start(flow: Flow, job: JobInfo): void {
    const total = Math.max(1, job.frames);
    if (this.#useBar) {
      this.#bar = new SingleBar(
        {
          stream: this.#stream,
          format: ' {bar} {percentage}% | {value}/{total} frames | written {written} | {rates}',
          hideCursor: true,
          clearOnComplete: false,
          fps: 5,
        },
        Presets.shades_classic,
      );
      this.#bar.start(total, 0, { written: 0, rates: '' });
    }
    const started = Date.now();
    this.#timer = setInterval(() => {
      const stats = flow.liveStats();
      if (stats === undefined) return;
      const rates = this.#rates.add(stats);
      const read = stats.nodes.find((node) => node.kind === 'producer')?.processed ?? 0;
      const written = stats.nodes.find((node) => node.name === job.writerNode)?.processed ?? 0;
      const rateText = stats.nodes
        .filter((node) => node.kind !== 'consumer' || node.name === job.writerNode)
        .map((node) => `${node.name} ${Math.round(rates.get(node.name) ?? 0)} fps`)
        .join(' · ');
      if (this.#bar !== undefined) this.#bar.update(Math.min(read, total), { written, rates: rateText });
      else if (Date.now() - this.#lastLine >= 1000) {
        this.#lastLine = Date.now();
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        this.#stream.write(`[${seconds} s] frames ${read}/${total}, written ${written} | ${rateText}\n`);
      }
    }, 200);
    this.#timer.unref();
  }

  stop(report: FlowReport): void {
    clearInterval(this.#timer);
    // The last poll may predate the last frames: end on the report's final counts.
    const read = report.nodes.find((node) => node.kind === 'producer')?.emitted ?? 0;
    const written = report.nodes.find((node) => node.kind === 'consumer')?.received ?? 0;
    this.#bar?.update(read, { written });
    this.#bar?.stop();
  }
}
