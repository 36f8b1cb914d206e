import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentRunOwner, RUN_OWNER_FILE, type RunOwner } from './runOwner.js';
import {
  defaultRunRoots,
  EMPTY_RUN_GRACE_MS,
  type RunRoot,
  SWEEP_STALE_RUNS_ENV,
  sweepStaleRuns,
  sweepStaleRunsInBackground,
} from './staleRuns.js';

/** The pid of a process that has run and been reaped: nothing runs under it now. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;

describe.runIf(process.platform === 'linux')('sweep of stale run directories', () => {
  // Two stand-ins for the temporary directory and /dev/shm: the sweep never looks at the real ones here.
  let base: string;
  let temporary: RunRoot;
  let shared: RunRoot;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'vf-sweep-test-'));
    temporary = { path: join(base, 'tmp'), names: /^vf-[A-Za-z0-9]{6}$/ };
    shared = { path: join(base, 'shm'), names: /^vf-[0-9a-f]{32}$/ };
    mkdirSync(temporary.path);
    mkdirSync(shared.path);
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const dead = (): RunOwner => ({ ...currentRunOwner(), pid: deadPid() });

  /** A run directory `name` under `root` whose owner file holds `owner` (raw text if a string), with a few files of a run. */
  function run(root: RunRoot, name: string, owner?: RunOwner | string): string {
    const directory = join(root.path, name);
    mkdirSync(directory, { mode: 0o700 });
    writeFileSync(join(directory, 'task.cjs'), '0');
    execFileSync('mkfifo', [join(directory, 'bell-0')]);
    mkdirSync(join(directory, 'nested'));
    writeFileSync(join(directory, 'nested', 'segment'), 'x');
    if (owner !== undefined) {
      writeFileSync(join(directory, RUN_OWNER_FILE), typeof owner === 'string' ? owner : JSON.stringify(owner), { mode: 0o600 });
    }
    return directory;
  }

  it('removes an empty run directory (no owner file) once unchanged for a minute; a younger or non-empty one stays', async () => {
    const hex = (digit: string) => digit.repeat(32);
    const old = (Date.now() - EMPTY_RUN_GRACE_MS - 5_000) / 1000;
    const emptyOld = join(shared.path, `vf-${hex('c')}`);
    const emptyYoung = join(shared.path, `vf-${hex('d')}`);
    const unownedOld = run(temporary, 'vf-noown2');
    mkdirSync(emptyOld, { mode: 0o700 });
    mkdirSync(emptyYoung, { mode: 0o700 });
    utimesSync(emptyOld, old, old);
    utimesSync(unownedOld, old, old);
    const removed = await sweepStaleRuns({ roots: [temporary, shared] });
    expect(removed).toEqual([emptyOld]);
    expect(existsSync(emptyOld)).toBe(false);
    // Maybe a run being made (its owner file comes right after), or not a run's: left alone.
    expect(existsSync(emptyYoung)).toBe(true);
    expect(existsSync(unownedOld)).toBe(true);
  });

  it('removes the directories of owners that are gone, and keeps every other', async () => {
    const hex = (digit: string) => digit.repeat(32);
    const gone = [
      run(temporary, 'vf-dead01', dead()),
      // The pid runs again, another process: its start time tells.
      run(temporary, 'vf-reuse1', { ...currentRunOwner(), startTime: String(Number(currentRunOwner().startTime) + 1) }),
      run(shared, `vf-${hex('a')}`, dead()),
    ];
    const kept = [
      run(temporary, 'vf-alive1', currentRunOwner()),
      run(shared, `vf-${hex('b')}`, currentRunOwner()),
      run(temporary, 'vf-noown1'),
      run(temporary, 'vf-garbl1', '{"pid":'),
      // Another pid namespace: its pids mean nothing here.
      run(temporary, 'vf-othns1', { ...dead(), pidNamespace: 'pid:[1]' }),
      // Names no host makes: the demo's output folder, a test's folder.
      run(temporary, 'vf-demo', dead()),
      run(temporary, 'vf-faults-abcdef', dead()),
      run(shared, `vf-${hex('c').slice(1)}`, dead()),
    ];
    // An owner file that is a link (to a valid one), or a FIFO (opening it must not wait for a writer).
    const linked = run(temporary, 'vf-lnown1');
    writeFileSync(join(base, 'owner'), JSON.stringify(dead()));
    symlinkSync(join(base, 'owner'), join(linked, RUN_OWNER_FILE));
    const fifo = run(temporary, 'vf-fifo01');
    execFileSync('mkfifo', [join(fifo, RUN_OWNER_FILE)]);
    // Not directories: a file of that name, a link to a run directory whose owner is gone.
    const file = join(temporary.path, 'vf-file01');
    writeFileSync(file, JSON.stringify(dead()));
    const target = run({ path: base, names: /./ }, 'target', dead());
    const link = join(temporary.path, 'vf-link01');
    symlinkSync(target, link);
    kept.push(linked, fifo, file, target, link);

    const removed = await sweepStaleRuns({ roots: [temporary, shared] });
    expect([...removed].sort()).toEqual([...gone].sort());
    for (const directory of gone) expect(existsSync(directory), directory).toBe(false);
    for (const path of kept) expect(existsSync(path), path).toBe(true);
    expect(existsSync(join(target, RUN_OWNER_FILE))).toBe(true);
  });

  it.runIf(process.getuid?.() === 0)("keeps another user's directory, and a directory holding another user's owner file", async () => {
    const theirs = run(temporary, 'vf-their1', dead());
    chownSync(theirs, 65534, 65534);
    const planted = run(temporary, 'vf-plant1', dead());
    chownSync(join(planted, RUN_OWNER_FILE), 65534, 65534);
    expect(await sweepStaleRuns({ roots: [temporary] })).toEqual([]);
    expect(existsSync(theirs) && existsSync(planted)).toBe(true);
  });

  it('asks about each owner found, once, and never throws: a root that does not exist, an owner it cannot judge', async () => {
    run(temporary, 'vf-asked1', dead());
    const asked: RunOwner[] = [];
    const removed = await sweepStaleRuns({
      roots: [{ path: join(base, 'absent'), names: /./ }, temporary],
      isGone: (owner) => {
        asked.push(owner);
        return false;
      },
    });
    expect(removed).toEqual([]);
    expect(asked).toHaveLength(1);
  });

  it('looks where hosts make run directories: the temporary directory, and /dev/shm on Linux', () => {
    expect(defaultRunRoots().map((root) => root.path)).toEqual([tmpdir(), '/dev/shm']);
    const [temporaryRoot, sharedRoot] = defaultRunRoots();
    expect(temporaryRoot?.names.test('vf-Ab3dE9')).toBe(true);
    expect(temporaryRoot?.names.test('vf-demo')).toBe(false);
    expect(sharedRoot?.names.test(`vf-${'0f'.repeat(16)}`)).toBe(true);
  });

  it('starts in the background once per process, and not at all with VF_SWEEP_STALE_RUNS=0', () => {
    let sweeps = 0;
    const sweep = async () => {
      sweeps += 1;
    };
    expect(sweepStaleRunsInBackground({ [SWEEP_STALE_RUNS_ENV]: '0' }, sweep)).toBe(false);
    expect(sweepStaleRunsInBackground({}, sweep)).toBe(true);
    expect(sweepStaleRunsInBackground({}, sweep)).toBe(false);
    expect(sweeps).toBe(1);
  });

  // Above the child's own 30 s: on a loaded machine its start through tsx alone can take seconds.
  it('never keeps the process alive: a process that is done exits, the sweep left to the next one', { timeout: 60_000 }, () => {
    // One dead owner for all: a `node` started per directory took 20 s of the test on a loaded machine.
    const owner = dead();
    const directories = Array.from({ length: 50 }, (_, index) => run(temporary, `vf-exit${String(index).padStart(2, '0')}`, owner));
    const script = [
      `import { sweepStaleRuns } from ${JSON.stringify(new URL('./staleRuns.ts', import.meta.url).href)};`,
      `sweepStaleRuns({ roots: [${JSON.stringify(temporary)}].map((root) => ({ ...root, names: /^vf-/ })) })`,
      "  .then((removed) => console.log('finished', removed.length));",
    ].join('\n');
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
        '--conditions=@vf/source',
        '--input-type=module',
        '-e',
        script,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect({ status: child.status, stderr: child.stderr }).toEqual({ status: 0, stderr: '' });
    expect(child.stdout).toBe('');
    // Each step waits on an unreferenced timer: the process ended with the sweep unfinished. (Most
    // often before its first step; on a loaded machine the module loader's last turns of the event
    // loop can let a few steps run first.)
    expect(directories.filter((directory) => existsSync(join(directory, RUN_OWNER_FILE))).length).toBeGreaterThan(0);
  });
});
