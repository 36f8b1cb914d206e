import { describe, expect, it } from 'vitest';
import type { TaskProcess } from '../contracts/spawner.js';
import { restartedIfCaughtAtFork } from './forkWindow.js';

/** A task process the test drives: it records what it was sent, and says or dies on demand. */
class ScriptedTask implements TaskProcess {
  readonly received: unknown[] = [];
  readonly killedWith: Array<NodeJS.Signals | undefined> = [];
  #messageListeners: Array<(message: unknown) => void> = [];
  #exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];
  constructor(readonly pid: number) {}
  send(message: unknown): boolean {
    this.received.push(message);
    return true;
  }
  onMessage(listener: (message: unknown) => void): void {
    this.#messageListeners.push(listener);
  }
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.#exitListeners.push(listener);
  }
  kill(signal?: NodeJS.Signals): void {
    this.killedWith.push(signal);
  }
  say(message: unknown): void {
    for (const listener of this.#messageListeners) listener(message);
  }
  die(code: number | null, signal: NodeJS.Signals | null): void {
    for (const listener of this.#exitListeners) listener(code, signal);
  }
}

function scripted() {
  const started: ScriptedTask[] = [];
  const task = restartedIfCaughtAtFork(() => {
    const child = new ScriptedTask(100 + started.length);
    started.push(child);
    return child;
  });
  const exits: Array<[number | null, NodeJS.Signals | null]> = [];
  const messages: unknown[] = [];
  task.onExit((code, signal) => exits.push([code, signal]));
  task.onMessage((message) => messages.push(message));
  return { task, started, exits, messages };
}

describe('restartedIfCaughtAtFork', () => {
  it('starts a task that died of SIGINT before its first word again, and sends it what the first was sent, in order', () => {
    const { task, started, exits, messages } = scripted();
    task.send('init');
    task.send('stop');
    started[0]?.die(null, 'SIGINT');
    expect(started).toHaveLength(2);
    expect(started[1]?.received).toEqual(['init', 'stop']);
    expect(exits).toEqual([]);
    expect(task.pid).toBe(101);
    started[1]?.say('hello');
    expect(messages).toEqual(['hello']);
    task.send('start');
    expect(started[1]?.received).toEqual(['init', 'stop', 'start']);
    started[1]?.die(0, null);
    expect(exits).toEqual([[0, null]]);
  });

  it('reports a SIGINT death once the task has spoken: a running task ignores SIGINT, so someone meant it', () => {
    const { task, started, exits } = scripted();
    task.send('init');
    started[0]?.say('hello');
    started[0]?.die(null, 'SIGINT');
    expect(started).toHaveLength(1);
    expect(exits).toEqual([[null, 'SIGINT']]);
  });

  it('reports any other death before the first word as it is', () => {
    const { started, exits } = scripted();
    started[0]?.die(1, null);
    expect(started).toHaveLength(1);
    expect(exits).toEqual([[1, null]]);
  });

  it('reports the death after a kill() from the host, whatever the signal', () => {
    const { task, started, exits } = scripted();
    task.kill('SIGINT');
    expect(started[0]?.killedWith).toEqual(['SIGINT']);
    started[0]?.die(null, 'SIGINT');
    expect(started).toHaveLength(1);
    expect(exits).toEqual([[null, 'SIGINT']]);
  });

  it('gives up after three restarts and reports the last death', () => {
    const { started, exits } = scripted();
    for (let index = 0; index < 4; index += 1) started[index]?.die(null, 'SIGINT');
    expect(started).toHaveLength(4);
    expect(exits).toEqual([[null, 'SIGINT']]);
  });

  it('ignores the replaced process from then on, and tells a late exit listener of the exit', () => {
    const { task, started, messages, exits } = scripted();
    started[0]?.die(null, 'SIGINT');
    started[0]?.say('stale');
    started[0]?.die(null, 'SIGINT');
    expect(messages).toEqual([]);
    expect(started).toHaveLength(2);
    started[1]?.die(0, null);
    const late: Array<[number | null, NodeJS.Signals | null]> = [];
    task.onExit((code, signal) => late.push([code, signal]));
    expect(late).toEqual([[0, null]]);
    expect(exits).toEqual([[0, null]]);
  });
});
