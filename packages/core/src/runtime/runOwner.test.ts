import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  currentRunOwner,
  ownerIsGone,
  parseProcStat,
  parseRunOwner,
  RUN_OWNER_FILE,
  removeRunDirectoryIfEmpty,
  writeRunOwner,
} from './runOwner.js';

/** A `/proc/<pid>/stat` line with command name `comm`, state `state` and start time `start` (fields 3 and 22). */
function statLine(comm: string, state: string, start: string): string {
  const fields = [state, ...Array.from({ length: 18 }, (_, index) => String(index + 4)), start, '3133440', '412'];
  return `4242 (${comm}) ${fields.join(' ')}\n`;
}

/** The pid of a process that has run and been reaped: nothing runs under it now. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid as number;
}

describe('run owner', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vf-owner-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the state and start time of a /proc stat line after the last ")", whatever the command name holds', () => {
    expect(parseProcStat(statLine('node', 'S', '8324393'))).toEqual({ state: 'S', startTime: '8324393' });
    // A command may name itself with spaces and parentheses (prctl, or its file name): split on the first ")" and a field is lost.
    expect(parseProcStat(statLine('a) R 1 (b c', 'Z', '77'))).toEqual({ state: 'Z', startTime: '77' });
    expect(parseProcStat('4242 (node) S 1 2')).toBeUndefined();
    expect(parseProcStat('not a stat line')).toBeUndefined();
  });

  it.runIf(process.platform === 'linux')("records this process's pid, start time and pid namespace", () => {
    const owner = currentRunOwner();
    expect(owner.pid).toBe(process.pid);
    expect(owner.startTime).toBe(parseProcStat(readFileSync('/proc/self/stat', 'utf8'))?.startTime);
    expect(owner.pidNamespace).toMatch(/^pid:\[[0-9]+\]$/);
  });

  it('writes the owner file 0600 as one JSON line naming this process, never through a link someone left', () => {
    writeRunOwner(dir);
    const file = join(dir, RUN_OWNER_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parseRunOwner(readFileSync(file, 'utf8'))).toEqual(currentRunOwner());

    const other = join(dir, 'other');
    mkdirSync(other);
    const target = join(dir, 'target');
    symlinkSync(target, join(other, RUN_OWNER_FILE));
    writeRunOwner(other);
    expect(existsSync(target)).toBe(false);
  });

  it('takes only a well-formed owner', () => {
    expect(parseRunOwner('{"pid":12,"startTime":"34","pidNamespace":"pid:[5]"}\n')).toEqual({
      pid: 12,
      startTime: '34',
      pidNamespace: 'pid:[5]',
    });
    expect(parseRunOwner('{"pid":12}')).toEqual({ pid: 12 });
    for (const text of [
      '',
      '{"pid',
      '12',
      'null',
      '[12]',
      '{"pid":0}',
      '{"pid":-3}',
      '{"pid":1.5}',
      '{"pid":"12"}',
      '{"pid":12,"startTime":12}',
    ]) {
      expect(parseRunOwner(text), text).toBeUndefined();
    }
  });

  describe.runIf(process.platform === 'linux')('whether an owner is gone', () => {
    const self = () => currentRunOwner();

    it('this process is not; its pid with another start time (taken again) is', () => {
      expect(ownerIsGone(self())).toBe(false);
      expect(ownerIsGone({ ...self(), startTime: String(Number(self().startTime) + 1) })).toBe(true);
    });

    it('a pid that runs nothing is; a zombie is; an unreadable or odd /proc entry is not', () => {
      expect(ownerIsGone({ ...self(), pid: deadPid() })).toBe(true);
      const owner = { ...self(), pid: 4242 };
      expect(ownerIsGone(owner, () => statLine('host', 'Z', owner.startTime as string))).toBe(true);
      expect(ownerIsGone(owner, () => statLine('host', 'S', owner.startTime as string))).toBe(false);
      expect(
        ownerIsGone(owner, () => {
          throw Object.assign(new Error('denied'), { code: 'EACCES' });
        }),
      ).toBe(false);
      expect(ownerIsGone(owner, () => 'garbage')).toBe(false);
    });

    it('an owner of another pid namespace (a container sharing /dev/shm), or of none known, is never judged', () => {
      const pid = deadPid();
      expect(ownerIsGone({ pid, startTime: '1', pidNamespace: 'pid:[1]' })).toBe(false);
      expect(ownerIsGone({ pid, startTime: '1' })).toBe(false);
    });
  });

  it('the last one out removes the run directory with its owner file; before, the owner file stays', () => {
    const run = join(dir, 'run');
    mkdirSync(run);
    writeRunOwner(run);
    writeFileSync(join(run, 't1'), '');
    removeRunDirectoryIfEmpty(run);
    expect(existsSync(join(run, RUN_OWNER_FILE))).toBe(true);
    rmSync(join(run, 't1'));
    removeRunDirectoryIfEmpty(run);
    expect(existsSync(run)).toBe(false);
    removeRunDirectoryIfEmpty(run); // gone already: nothing to do, no throw
  });
});
