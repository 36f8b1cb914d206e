import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readJsonLines } from './jsonLines.js';

/** What `readJsonLines` makes of `text`: the messages and the stray lines, once the input ended. */
async function read(text: string, withStray = true): Promise<{ messages: unknown[]; stray: string[] }> {
  const input = new PassThrough();
  const messages: unknown[] = [];
  const stray: string[] = [];
  const lines = readJsonLines(input, (message) => messages.push(message), withStray ? (line) => stray.push(line) : undefined);
  const closed = new Promise((resolve) => lines.once('close', resolve));
  input.end(text);
  await closed;
  return { messages, stray };
}

describe('readJsonLines', () => {
  it('gives each control line as its message, and a line that is none to the listener as text when there is no onStray', async () => {
    expect(await read('{"v":3,"type":"hello","pid":7}\n\nnot json\n', false)).toEqual({
      messages: [{ v: 3, type: 'hello', pid: 7 }, 'not json'],
      stray: [],
    });
  });

  it("with onStray: a child's line is stray output; one cut short runs into the next message, which still arrives whole", async () => {
    const text = ['progress: item 50', '50%{"v":3,"type":"stats","stats":{}}', '[1,2,3]', '{"v":3,"type":"heartbeat"}', ''].join('\n');
    // Before, the second line (holding a message) went to the listener whole, as a broken message.
    expect(await read(text)).toEqual({
      messages: [
        { v: 3, type: 'stats', stats: {} },
        { v: 3, type: 'heartbeat' },
      ],
      stray: ['progress: item 50', '50%', '[1,2,3]'],
    });
  });

  it('with onStray: a message cut in two is still a broken message for the protocol check to refuse', async () => {
    expect(await read('{"v":3,"type":"sta\n')).toEqual({ messages: ['{"v":3,"type":"sta'], stray: [] });
  });
});
