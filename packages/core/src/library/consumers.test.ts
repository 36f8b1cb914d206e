import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Flow } from '../flow/flow.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { CommandlineConsumer, FileAppenderConsumer, VoidConsumer } from './consumers.js';
import { IntProducer } from './intProducer.js';

function memoryOutput() {
  const chunks: string[] = [];
  return { chunks, write: (chunk: string) => chunks.push(chunk) };
}

describe('FileAppenderConsumer', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-file-appender-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one JSON line per input, an array when it has several inputs', async () => {
    const file = join(dir, 'out.jsonl');
    const sink = new FileAppenderConsumer<unknown[]>(file);
    await sink.open();
    await sink.consume(1);
    await sink.consume({ label: 'cat', score: 0.5 });
    await sink.consume('text', [1, 2]);
    await sink.close();
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(lines).toEqual(['1', '{"label":"cat","score":0.5}', '["text",[1,2]]', '']);
    expect(lines.slice(0, -1).map((line) => JSON.parse(line) as unknown)).toEqual([1, { label: 'cat', score: 0.5 }, ['text', [1, 2]]]);
  });

  it('appends to an existing file and uses a custom format', async () => {
    const file = join(dir, 'out.txt');
    const first = new FileAppenderConsumer<[number]>(file);
    await first.open();
    await first.consume(1);
    await first.close();
    const second = new FileAppenderConsumer<[number]>(file, { format: (value) => `value=${String(value)}` });
    await second.open();
    await second.consume(2);
    await second.close();
    expect(await readFile(file, 'utf8')).toBe('1\nvalue=2\n');
  });

  it('refuses to consume before open(), and close() twice is harmless', async () => {
    const sink = new FileAppenderConsumer<[number]>(join(dir, 'never.jsonl'), { name: 'early' });
    await expect(sink.consume(1)).rejects.toThrow('"early"');
    await sink.open();
    await sink.close();
    await sink.close();
  });

  it('writes every item of a flow', async () => {
    const file = join(dir, 'flow.jsonl');
    const numbers = new IntProducer(0, 9);
    const sink = new FileAppenderConsumer<[number]>(file).from(numbers);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine());
    expect((await flow.join()).status).toBe('completed');
    const text = await readFile(file, 'utf8');
    expect(text.trim().split('\n').map(Number)).toEqual(Array.from({ length: 10 }, (_, index) => index));
  });
});

describe('CommandlineConsumer', () => {
  it('writes each input set as one line to the injected output', () => {
    const output = memoryOutput();
    const printer = new CommandlineConsumer<unknown[]>({ output });
    printer.consume(1, 'two', { three: [3] });
    printer.consume(null);
    expect(output.chunks).toEqual(["1 'two' { three: [ 3 ] }\n", 'null\n']);
  });

  it('uses a custom format', () => {
    const output = memoryOutput();
    const printer = new CommandlineConsumer<[number, number]>({ output, format: (a, b) => `${String(a)}+${String(b)}` });
    printer.consume(1, 2);
    expect(output.chunks).toEqual(['1+2\n']);
  });

  it('prints every item of a flow in order', async () => {
    const output = memoryOutput();
    const numbers = new IntProducer(1, 3);
    const printer = new CommandlineConsumer<[number]>({ output }).from(numbers);
    const flow = new Flow([numbers], [printer]);
    await flow.run(new InProcessEngine());
    await flow.join();
    expect(output.chunks.join('')).toBe('1\n2\n3\n');
  });
});

describe('VoidConsumer', () => {
  it('consumes and counts without output', async () => {
    const numbers = new IntProducer(0, 4);
    const sink = new VoidConsumer().from(numbers);
    const flow = new Flow([numbers], [sink]);
    await flow.run(new InProcessEngine());
    const report = await flow.join();
    expect(report.nodes.find((node) => node.kind === 'consumer')?.received).toBe(5);
  });
});
