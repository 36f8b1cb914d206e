import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';

/**
 * Reads newline-delimited JSON (the control channel over a launcher's stdio), one message per line.
 * A line that is not JSON reaches the listener as the string itself, so that the protocol check
 * rejects it by name rather than it vanishing; with `onStray`, a line that holds no control message
 * at all (none of `{"v":`, which starts every one) goes there instead: output that something else
 * wrote into the channel (a child process of the task). Close the returned interface to stop reading.
 */
export function readJsonLines(input: Readable, listener: (message: unknown) => void, onStray?: (line: string) => void): Interface {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (received) => {
    let line = received;
    if (line.trim() === '') return;
    if (onStray !== undefined) {
      const start = line.indexOf(CONTROL_LINE_START);
      if (start === -1) {
        onStray(line);
        return;
      }
      // A child's output without a newline (`printf '50%'`, a progress bar) runs into the next
      // control line: the text before the message is the stray part.
      if (start > 0) {
        onStray(line.slice(0, start));
        line = line.slice(start);
      }
    }
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      message = line;
    }
    listener(message);
  });
  return lines;
}

/** How every control message's line starts (`{ v: version, ... }`, also the native helper's heartbeats). */
const CONTROL_LINE_START = '{"v":';

/** One message as a line of the control channel. */
export function jsonLine(message: unknown): string {
  return `${JSON.stringify(message)}\n`;
}
