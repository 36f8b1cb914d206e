import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NATIVE_HELPER_PATH } from '../nativeHelper.js';
import { BellListener, BellRinger, bellPath, type NativeBell, type NativeRinger } from './ringBell.js';
import { nativeRings } from './sharedRing.js';

const native = nativeRings();

/** The descriptors this process holds open on `path` (removed or not). */
const openOn = (path: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return [path, `${path} (deleted)`].includes(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      return false;
    }
  });

/** What native/build.mjs built the helper with: the helper has its event-loop bell where libuv's header was there. */
const { nodeHeaders, hasLibuvHeader } = (await import(new URL('../../native/nodeHeaders.mjs', import.meta.url).href)) as {
  nodeHeaders(): string | undefined;
  hasLibuvHeader(headers: string): boolean;
};
const headers = nodeHeaders();
const uvHeader = headers !== undefined && hasLibuvHeader(headers);

it.runIf(native !== null && uvHeader)(
  'the helper listens to bells on the event loop (built with the libuv header that comes with Node)',
  () => {
    expect(typeof native?.listenBell).toBe('function');
  },
);

/**
 * Runs `lines` as a node script in a process of its own, after a prologue that makes the bell
 * `path` (a FIFO in a directory of its own, removed after) and takes `listenBell` from the helper
 * and `openSync`, `readFileSync`, `writeSync` and `constants` from node:fs. The script ends the
 * process itself; after 20 s it prints `stuck` and exits with 1.
 */
function runBellScript(lines: readonly string[]): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vf-bell-test-'));
  try {
    const script = [
      'const [helper, path] = process.argv.slice(1);',
      'const { makeFifo, listenBell } = require(helper);',
      "const { openSync, readFileSync, writeSync, constants } = require('node:fs');",
      "setTimeout(() => { console.log('stuck'); process.exit(1); }, 20_000);",
      'makeFifo(path);',
      ...lines,
    ].join('\n');
    return spawnSync(process.execPath, ['-e', script, NATIVE_HELPER_PATH, bellPath(dir, 1)], { encoding: 'utf8', timeout: 30_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it.runIf(native?.listenBell !== undefined)(
  "an exception thrown by a bell's listener is the process's uncaught exception, as from any event-loop callback",
  () => {
    const child = runBellScript([
      "process.on('uncaughtException', (error) => { console.log('caught: ' + error.message); process.exit(0); });",
      "listenBell(path, () => { throw new Error('thrown by onRing'); });",
      "writeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK), '!');",
    ]);
    expect(child.stdout.trim()).toBe('caught: thrown by onRing');
    expect(child.status).toBe(0);
  },
);

it.runIf(native?.listenBell !== undefined && existsSync('/proc/self/io'))(
  'the event-loop bell reads its FIFO once per wake-up (read system calls of the process, /proc/self/io)',
  () => {
    // 200 wake-ups, each rung by the process itself once the one before was answered.
    const child = runBellScript([
      "const reads = () => Number(/syscr: (\\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))[1]);",
      'const wakeUps = 200;',
      'let woken = 0;',
      'let before;',
      'listenBell(path, () => {',
      '  woken += 1;',
      '  if (woken === wakeUps) { console.log((reads() - before) / wakeUps); process.exit(0); }',
      "  setImmediate(() => writeSync(ringer, '!'));",
      '});',
      '// Opened once the bell listens: a FIFO with no reader refuses a non-blocking writer.',
      'const ringer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);',
      'before = reads();',
      "writeSync(ringer, '!');",
    ]);
    expect(child.status, child.stdout + child.stderr).toBe(0);
    // One read per wake-up; reading until EAGAIN made it two. The last read of /proc adds ~0.01.
    expect(Number(child.stdout.trim())).toBeLessThan(1.5);
  },
);

/** The native helper as ringers see it, counting the rings that go through its `ringBell`. */
let nativeRingCalls = 0;
const countingRinger: NativeRinger | undefined =
  native?.ringBell === undefined
    ? undefined
    : {
        ringBell: (fd) => {
          nativeRingCalls += 1;
          native.ringBell?.(fd);
        },
      };

const listeners: Array<[string, NativeBell | null, NativeRinger | undefined]> = [
  ['on the event loop (native helper), rung by the helper', native, countingRinger],
  [
    'with a net.Socket (helper built without libuv), rung by fs.writeSync',
    native === null ? null : { makeFifo: native.makeFifo },
    undefined,
  ],
];

it.runIf(native !== null)('the helper rings bells itself (one write(2), no fs.writeSync)', () => {
  expect(typeof native?.ringBell).toBe('function');
});

describe.each(listeners)('ring bell, listened to %s', (_how, bellNative, ringerNative) => {
  let dir: string;
  let listener: BellListener | undefined;
  let rings: number;
  let rung: Promise<void>;
  let onRing: () => void;
  beforeEach(() => {
    dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vf-bell-test-'));
    rings = 0;
    rung = new Promise((resolve) => {
      onRing = () => {
        rings += 1;
        resolve();
      };
    });
    if (bellNative === null) return;
    listener = BellListener.create(bellNative, bellPath(dir, 3), () => onRing());
  });
  afterEach(() => {
    listener?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(bellNative === null)('is a FIFO only its owner can open; rings written together wake the listener once', async () => {
    const path = bellPath(dir, 3);
    expect(statSync(path).isFIFO()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const ringer = BellRinger.open(path, ringerNative) as BellRinger;
    expect(ringer).toBeDefined();
    const before = nativeRingCalls;
    for (let index = 0; index < 5; index++) ringer.ring();
    expect(nativeRingCalls - before).toBe(ringerNative === undefined ? 0 : 5);
    await rung;
    // The five bytes were all there before the listener's event loop read them: one wake-up (a
    // second would come in the next poll of the loop, which the immediates below wait past).
    for (let turn = 0; turn < 3; turn++) await new Promise(setImmediate);
    expect(rings).toBe(1);
    ringer.close();
  });

  it.skipIf(bellNative === null)('wakes the listener again for each later ring, and lets go of the FIFO when closed', async () => {
    const path = bellPath(dir, 3);
    const ringer = BellRinger.open(path, ringerNative) as BellRinger;
    for (let round = 1; round <= 3; round++) {
      ringer.ring();
      const deadline = Date.now() + 10_000;
      while (rings < round && Date.now() < deadline) await new Promise(setImmediate);
      expect(rings).toBe(round);
    }
    expect(openOn(path)).toHaveLength(2);
    listener?.close();
    listener?.close();
    listener = undefined;
    for (let turn = 0; turn < 3; turn++) await new Promise(setImmediate);
    expect(openOn(path)).toHaveLength(1);
    ringer.close();
  });

  it.skipIf(bellNative === null)('refuses to be made twice, and a missing bell opens as none', () => {
    expect(() => BellListener.create(bellNative as NativeBell, bellPath(dir, 3), () => undefined)).toThrow(/exists/);
    expect(BellRinger.open(bellPath(dir, 4), ringerNative)).toBeUndefined();
  });

  it.skipIf(bellNative === null)('never blocks nor throws: not on a FIFO full of unread rings, not once the listener is gone', async () => {
    const ringer = BellRinger.open(bellPath(dir, 3), ringerNative) as BellRinger;
    // More bytes than a pipe holds (64 KiB): the ones that find it full are dropped, a wake-up is pending anyway.
    for (let index = 0; index < 70_000; index++) ringer.ring();
    await rung;
    listener?.close();
    listener = undefined;
    expect(existsSync(bellPath(dir, 3))).toBe(false);
    ringer.ring();
    ringer.close();
    ringer.ring();
  });
});
