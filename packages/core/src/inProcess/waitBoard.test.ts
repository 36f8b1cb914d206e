import { describe, expect, it } from 'vitest';
import type { VfError } from '../errors.js';
import { type RoomWait, WaitBoard } from './waitBoard.js';

/** Resolves after the microtasks and one turn of the event loop: the board's check has run by then. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

function recorder() {
  const lent: string[] = [];
  const stuck: VfError[] = [];
  const wait = (edge: string): RoomWait => ({ edge, lend: () => lent.push(edge) });
  return {
    lent,
    stuck,
    wait,
    board: (tasks: number) =>
      new WaitBoard(
        tasks,
        () => undefined,
        (error) => stuck.push(error),
      ),
  };
}

describe("WaitBoard (Parks' rule, in process)", () => {
  it('lends room once every running task waits and none moved, taking the waiting publishers in turn', async () => {
    const { lent, wait, board: make } = recorder();
    const board = make(3);
    const a = wait('a -> join');
    const b = wait('b -> join');
    board.waitForRoom(a);
    board.waitForRoom(b);
    await settled();
    expect(lent).toEqual([]); // the join still runs
    board.waitForInput();
    await settled();
    expect(lent).toEqual(['a -> join']);
    // The lent publisher's wait ends (it sends) and it waits again: the next deadlock lends to the other.
    board.stopWaiting(a);
    board.waitForRoom(a);
    await settled();
    expect(lent).toEqual(['a -> join', 'b -> join']);
  });

  it('lends nothing when a wait ends before the check: the flow moved', async () => {
    const { lent, wait, board: make } = recorder();
    const board = make(2);
    const a = wait('a -> b');
    board.waitForRoom(a);
    board.waitForInput();
    // Woken in the same turn (a notify resolved it): the check finds the board changed.
    board.stopWaiting();
    await settled();
    expect(lent).toEqual([]);
  });

  it('counts only running tasks: a task that ended does not keep the others from a deadlock', async () => {
    const { lent, wait, board: make } = recorder();
    const board = make(3);
    board.waitForRoom(wait('a -> c'));
    board.waitForInput();
    await settled();
    expect(lent).toEqual([]);
    board.taskEnded();
    await settled();
    expect(lent).toEqual(['a -> c']);
  });

  it('fails the flow with FLOW_DEADLOCK when every task waits for input and none for room', async () => {
    const { lent, stuck, board: make } = recorder();
    const board = make(2);
    board.waitForInput();
    board.waitForInput();
    await settled();
    expect(lent).toEqual([]);
    expect(stuck.map((error) => error.code)).toEqual(['FLOW_DEADLOCK']);
  });
});
