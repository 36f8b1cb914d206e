import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { serializeError, VfError } from '../errors.js';
import { encodeValue } from '../wire/codec.js';
import type { DeadLetter } from './readDeadLetters.js';

/** Version of the dead-letter line format; {@link readDeadLetters} refuses others. */
export const DEAD_LETTER_FORMAT = 1;
/** Suffix of the JSON-lines file of a task's dead letters. */
export const DEAD_LETTER_LINES = '.deadletters.jsonl';
/** Suffix of the file that holds the encoded inputs (raw frames) the lines point into. */
export const DEAD_LETTER_FRAMES = '.deadletters.frames';

/**
 * One line of a dead-letter file, as written (format {@link DEAD_LETTER_FORMAT}): the fields
 * {@link readDeadLetters} gives back, plus the format version and where the inputs are stored.
 */
export interface DeadLetterLine extends Omit<DeadLetter, 'inputs' | 'inputError'> {
  readonly v: typeof DEAD_LETTER_FORMAT;
  /**
   * The inputs (one per parent, encoded as one array with the value codec): `frames` holds the
   * byte length of each frame, stored back to back from byte `offset` of the frames file. Or, when
   * the inputs cannot be encoded (a class not registered...), why not.
   */
  readonly input: { readonly offset: number; readonly frames: readonly number[] } | { readonly unencodable: string };
}

/** What the writer needs to know about one failed item. */
export interface DeadLetterItem {
  readonly seq: number;
  readonly ticket: number;
  readonly attempts: number;
  readonly error: unknown;
  readonly inputs: readonly unknown[];
}

/**
 * Stores one task's dead letters in `dir`: `<node>.<taskIndex>.<host>.<pid>` plus
 * {@link DEAD_LETTER_LINES} and {@link DEAD_LETTER_FRAMES}. One pair of files per task process, so
 * replicas, tasks on other hosts sharing a folder, and a task restarted after a crash never write
 * to the same file. Each item is written with synchronous appends, frames first then its line:
 * once `write()` returns, the item survives the process being killed (not a machine crash: no
 * fsync per item, which would cost more than the failure it records). A kill in the middle of a
 * write leaves at most a torn last line, which the reader skips.
 */
/** A pair of open dead-letter files, the frames file's end, and how many writers hold them. */
interface OpenFiles {
  readonly base: string;
  readonly lines: number;
  readonly frames: number;
  offset: number;
  writers: number;
}

/**
 * The files open in this process, by path: two writers of one node and task in one process (two
 * flows at once on the in-process engine, with the same folder and node name) share one pair and
 * its offset, where each on its own would record offsets that the other's appends made wrong.
 */
const openFiles = new Map<string, OpenFiles>();

export class DeadLetterWriter {
  readonly #dir: string;
  readonly #node: string;
  readonly #taskIndex: number;
  #files: OpenFiles | undefined;

  constructor(dir: string, node: string, taskIndex: number) {
    this.#dir = dir;
    this.#node = node;
    this.#taskIndex = taskIndex;
  }

  /** Appends one dead letter. Throws `VfError` `DEAD_LETTER_FAILED` naming the node and folder when it cannot. */
  write(item: DeadLetterItem): void {
    try {
      const files = this.#open();
      let input: DeadLetterLine['input'];
      try {
        const frames = encodeValue(item.inputs, this.#node);
        input = { offset: files.offset, frames: frames.map((frame) => frame.length) };
        for (const frame of frames) files.offset += writeAll(files.frames, frame);
      } catch (error) {
        input = { unencodable: error instanceof Error ? error.message : String(error) };
      }
      const line: DeadLetterLine = {
        v: DEAD_LETTER_FORMAT,
        node: this.#node,
        taskIndex: this.#taskIndex,
        seq: item.seq,
        ticket: item.ticket,
        attempts: item.attempts,
        failedAt: new Date().toISOString(),
        host: hostname(),
        pid: process.pid,
        error: serializeError(item.error),
        input,
      };
      writeAll(files.lines, Buffer.from(`${JSON.stringify(line)}\n`));
    } catch (error) {
      throw new VfError(
        'DEAD_LETTER_FAILED',
        `node "${this.#node}" (task ${this.#taskIndex}) could not store a dead letter in "${this.#dir}": ${(error as Error).message}; make the onError.deadLetter folder writable on the task's host`,
        { cause: error, details: { node: this.#node, taskIndex: this.#taskIndex, dir: this.#dir } },
      );
    }
  }

  /** Closes the files (if any were opened). */
  close(): void {
    const files = this.#files;
    if (files === undefined) return;
    this.#files = undefined;
    files.writers -= 1;
    if (files.writers > 0) return;
    openFiles.delete(files.base);
    closeSync(files.lines);
    closeSync(files.frames);
  }

  #open(): OpenFiles {
    if (this.#files !== undefined) return this.#files;
    mkdirSync(this.#dir, { recursive: true });
    const base = resolve(
      this.#dir,
      `${encodeURIComponent(this.#node)}.${this.#taskIndex}.${encodeURIComponent(hostname())}.${process.pid}`,
    );
    let files = openFiles.get(base);
    if (files === undefined) {
      const frames = openSync(`${base}${DEAD_LETTER_FRAMES}`, 'a');
      let lines: number;
      try {
        lines = openSync(`${base}${DEAD_LETTER_LINES}`, 'a');
      } catch (error) {
        closeSync(frames);
        throw error;
      }
      files = { base, lines, frames, offset: fstatSync(frames).size, writers: 0 };
      openFiles.set(base, files);
    }
    files.writers += 1;
    this.#files = files;
    return files;
  }
}

function writeAll(fd: number, data: Buffer): number {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written);
  return data.length;
}
