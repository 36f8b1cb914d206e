import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type SerializedError, VfError } from '../errors.js';
import { decodeValue } from '../wire/codec.js';
import { DEAD_LETTER_FORMAT, DEAD_LETTER_FRAMES, DEAD_LETTER_LINES, type DeadLetterLine } from './deadLetterWriter.js';

/** One item a node gave up on (`onError: { deadLetter }`), as read back by {@link readDeadLetters}. */
export interface DeadLetter {
  readonly node: string;
  /** The task (replica) that stored it. */
  readonly taskIndex: number;
  /** Origin of the item: the index of the producer item it derives from. */
  readonly seq: number;
  /** Position of the item in the node's input order. */
  readonly ticket: number;
  /** Calls that failed on it: 1 + the retries. */
  readonly attempts: number;
  /** ISO time of the last failure. */
  readonly failedAt: string;
  readonly host: string;
  readonly pid: number;
  /** The last attempt's error (name, message, code, stack, details, cause), as plain data. */
  readonly error: SerializedError;
  /** The node's inputs, one per parent, decoded; absent when they could not be encoded (see `inputError`). */
  readonly inputs?: readonly unknown[];
  /** Why the inputs were not stored (they held a value the codec refuses). */
  readonly inputError?: string;
}

/**
 * Reads the dead letters stored in `dir` by every task of every run that wrote there, sorted by
 * node then origin (`seq`). An item stored twice — a replica killed after storing it and before
 * its output was confirmed, whose item `restartOnFailure` gave to another replica that failed on it
 * too — is returned once (the first stored). A torn last line (a task killed while writing) is
 * skipped. Inputs holding registered classes decode to instances only where the classes are
 * registered (import the flow module first). Throws `VfError` `DEAD_LETTER_UNREADABLE` for a
 * line in an unknown format.
 *
 * @example
 * ```ts
 * for (const letter of await readDeadLetters('/data/run-42/dead')) {
 *   console.log(letter.node, letter.seq, letter.error.message, letter.inputs?.[0]);
 * }
 * ```
 */
export async function readDeadLetters(dir: string): Promise<DeadLetter[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith(DEAD_LETTER_LINES)).sort();
  const letters = new Map<string, DeadLetter>();
  for (const name of names) {
    const base = join(dir, name.slice(0, -DEAD_LETTER_LINES.length));
    const text = await readFile(`${base}${DEAD_LETTER_LINES}`, 'utf8');
    // Only complete lines: a task killed mid-write leaves its last line without a newline.
    const lines = text.split('\n').slice(0, -1);
    let frames: Buffer | undefined;
    for (const [index, text] of lines.entries()) {
      if (text.trim() === '') continue;
      const line = parseLine(text, `${name}:${index + 1}`);
      const key = JSON.stringify([line.node, line.seq]);
      const previous = letters.get(key);
      if (previous !== undefined && previous.failedAt <= line.failedAt) continue;
      let input: Pick<DeadLetter, 'inputs' | 'inputError'>;
      if ('unencodable' in line.input) input = { inputError: line.input.unencodable };
      else {
        frames ??= await readFile(`${base}${DEAD_LETTER_FRAMES}`);
        input = { inputs: decodeInputs(frames, line.input) };
      }
      const { v: _version, input: _input, ...rest } = line;
      letters.set(key, { ...rest, ...input });
    }
  }
  return [...letters.values()].sort((a, b) => (a.node === b.node ? a.seq - b.seq : a.node < b.node ? -1 : 1));
}

function parseLine(text: string, where: string): DeadLetterLine {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch (error) {
    throw unreadable(`${where} is not JSON: ${(error as Error).message}`);
  }
  const candidate = line as Partial<DeadLetterLine> | null;
  if (candidate?.v !== DEAD_LETTER_FORMAT || typeof candidate.node !== 'string' || typeof candidate.seq !== 'number') {
    throw unreadable(`${where} is not a dead letter of format ${DEAD_LETTER_FORMAT}`);
  }
  return candidate as DeadLetterLine;
}

function decodeInputs(frames: Buffer, input: { readonly offset: number; readonly frames: readonly number[] }): unknown[] {
  const parts: Buffer[] = [];
  let at = input.offset;
  for (const length of input.frames) {
    // A copy per frame: decoded typed arrays must own their memory, not pin the whole file.
    const part = Buffer.allocUnsafeSlow(length);
    frames.copy(part, 0, at, at + length);
    parts.push(part);
    at += length;
  }
  return decodeValue(parts) as unknown[];
}

function unreadable(message: string): VfError {
  return new VfError('DEAD_LETTER_UNREADABLE', `readDeadLetters: ${message}`, { details: {} });
}
