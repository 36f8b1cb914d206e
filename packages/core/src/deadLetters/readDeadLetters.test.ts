import { appendFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VfError } from '../errors.js';
import { DEAD_LETTER_LINES, DeadLetterWriter } from './deadLetterWriter.js';
import { readDeadLetters } from './readDeadLetters.js';

describe('dead letters: DeadLetterWriter and readDeadLetters', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-dead-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const failure = (message: string) => Object.assign(new Error(message, { cause: new TypeError('bad header') }), { code: 'CORRUPT' });

  it('two writers of one node and task in one process (two in-process flows at once) share its files: each letter keeps its own input', async () => {
    const first = new DeadLetterWriter(dir, 'decode', 0);
    const second = new DeadLetterWriter(dir, 'decode', 0);
    for (let seq = 0; seq < 6; seq++) {
      const writer = seq % 2 === 0 ? first : second;
      writer.write({ seq, ticket: seq, attempts: 1, error: failure(`item ${seq}`), inputs: [`input ${seq}`.repeat(seq + 1)] });
    }
    first.close();
    second.write({ seq: 6, ticket: 6, attempts: 1, error: failure('item 6'), inputs: ['input 6'] });
    second.close();
    expect(readdirSync(dir).filter((name) => name.endsWith(DEAD_LETTER_LINES))).toHaveLength(1);
    const letters = await readDeadLetters(dir);
    expect(letters.map((letter) => letter.inputs)).toEqual(
      Array.from({ length: 7 }, (_, seq) => [seq === 6 ? 'input 6' : `input ${seq}`.repeat(seq + 1)]),
    );
  });

  it('round-trips inputs, typed arrays as raw frames included, with the error, per node sorted by seq', async () => {
    const writer = new DeadLetterWriter(join(dir, 'nested', 'dead'), 'decode', 1);
    const pixels = new Float32Array([1.5, -2, 3.25]);
    writer.write({ seq: 7, ticket: 3, attempts: 3, error: failure('frame 7 corrupt'), inputs: [{ frame: pixels, id: 'a' }, 7n] });
    writer.write({ seq: 2, ticket: 1, attempts: 1, error: 'a string was thrown', inputs: [new Map([['k', new Uint8Array([9, 8])]])] });
    writer.close();
    const letters = await readDeadLetters(join(dir, 'nested', 'dead'));
    expect(letters.map((letter) => letter.seq)).toEqual([2, 7]);
    const [second, first] = letters;
    expect(first).toMatchObject({ node: 'decode', taskIndex: 1, seq: 7, ticket: 3, attempts: 3, pid: process.pid });
    expect(first?.error).toMatchObject({
      name: 'Error',
      message: 'frame 7 corrupt',
      code: 'CORRUPT',
      cause: { name: 'TypeError', message: 'bad header' },
    });
    expect(first?.error.stack).toContain('readDeadLetters.test');
    expect(first?.inputs).toEqual([{ frame: pixels, id: 'a' }, 7n]);
    expect((first?.inputs?.[0] as { frame?: unknown } | undefined)?.frame).toBeInstanceOf(Float32Array);
    expect(second?.error).toMatchObject({ name: 'NonError', message: 'a string was thrown' });
    expect(second?.inputs).toEqual([new Map([['k', new Uint8Array([9, 8])]])]);
    expect(Number.isNaN(Date.parse(first?.failedAt ?? ''))).toBe(false);
  });

  it('stores the error without the input when the input cannot be encoded', async () => {
    const writer = new DeadLetterWriter(dir, 'parse', 0);
    writer.write({ seq: 0, ticket: 0, attempts: 1, error: failure('no'), inputs: [() => 1] });
    writer.close();
    const [letter] = await readDeadLetters(dir);
    expect(letter?.inputs).toBeUndefined();
    expect(letter?.inputError).toContain('function');
    expect(letter?.error.message).toBe('no');
  });

  it('one file pair per task; an item stored by two replicas (re-dispatched after a death) is read once', async () => {
    const a = new DeadLetterWriter(dir, 'ocr', 0);
    const b = new DeadLetterWriter(dir, 'ocr', 1);
    a.write({ seq: 5, ticket: 5, attempts: 1, error: failure('first'), inputs: [5] });
    b.write({ seq: 5, ticket: 5, attempts: 1, error: failure('again'), inputs: [5] });
    b.write({ seq: 6, ticket: 6, attempts: 1, error: failure('other'), inputs: [6] });
    a.close();
    b.close();
    expect(readdirSync(dir).filter((name) => name.endsWith(DEAD_LETTER_LINES))).toHaveLength(2);
    const letters = await readDeadLetters(dir);
    expect(letters.map((letter) => [letter.seq, letter.error.message])).toEqual([
      [5, 'first'],
      [6, 'other'],
    ]);
  });

  it('skips a torn last line (a task killed while writing), refuses a line in another format', async () => {
    const writer = new DeadLetterWriter(dir, 'n', 0);
    writer.write({ seq: 1, ticket: 1, attempts: 1, error: failure('kept'), inputs: [1] });
    writer.close();
    const [file] = readdirSync(dir).filter((name) => name.endsWith(DEAD_LETTER_LINES));
    appendFileSync(join(dir, file as string), '{"v":1,"node":"n","seq":2,"tick');
    expect((await readDeadLetters(dir)).map((letter) => letter.seq)).toEqual([1]);
    await writeFile(join(dir, `other${DEAD_LETTER_LINES}`), '{"v":9}\n');
    const error = await readDeadLetters(dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(VfError);
    expect((error as VfError).code).toBe('DEAD_LETTER_UNREADABLE');
  });

  it('a folder it cannot write: DEAD_LETTER_FAILED naming the node and the folder', async () => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, 'not a folder');
    const writer = new DeadLetterWriter(join(blocker, 'dead'), 'upload', 2);
    let caught: unknown;
    try {
      writer.write({ seq: 0, ticket: 0, attempts: 1, error: failure('x'), inputs: [0] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'DEAD_LETTER_FAILED', details: { node: 'upload', taskIndex: 2 } });
    expect((caught as Error).message).toContain(join(blocker, 'dead'));
  });
});
