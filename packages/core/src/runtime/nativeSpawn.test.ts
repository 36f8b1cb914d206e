import { readlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nativeHelper } from '../nativeHelper.js';
import { NATIVE_SPAWN_ENV, type NativeChildProcess, type StdioSetting, spawnNative } from './nativeSpawn.js';

const canSpawn = nativeHelper()?.spawnProcess !== undefined;
const started: NativeChildProcess[] = [];

afterEach(() => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
});

function start(script: string, stdio: readonly StdioSetting[] = ['ignore', 'inherit', 'inherit', 'pipe']): NativeChildProcess {
  const child = spawnNative('/bin/sh', ['-c', script], { PATH: process.env.PATH }, stdio);
  if (child === undefined) throw new Error('spawnNative declined');
  started.push(child);
  return child;
}

/** What the program `file` writes to its stdout, once it has exited with code 0. */
async function outputOf(file: string, args: readonly string[]): Promise<[NativeChildProcess, string]> {
  const child = spawnNative(file, args, { PATH: process.env.PATH }, ['ignore', 'pipe', 'inherit']);
  if (child === undefined) throw new Error('spawnNative declined');
  started.push(child);
  const [output, exit] = await Promise.all([readAll(child.stdout), exitOf(child)]);
  expect(exit).toEqual([0, null]);
  return [child, output];
}

function exitOf(child: NativeChildProcess): Promise<[number | null, NodeJS.Signals | null]> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
}

function readAll(socket: Socket | null | undefined): Promise<string> {
  if (socket === null || socket === undefined) throw new Error('no socket');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  return new Promise((resolve) => socket.once('end', () => resolve(text)));
}

describe.skipIf(!canSpawn)('spawnNative', () => {
  it('reports the exit code, or the signal that ended the process', async () => {
    const exitedWithCode = start('exit 7');
    expect(exitedWithCode.pid).toBeGreaterThan(0);
    expect(await exitOf(exitedWithCode)).toEqual([7, null]);
    expect(exitedWithCode.exitCode).toBe(7);
    const killed = start('echo ready >&3; exec sleep 30');
    await new Promise((resolve) => killed.stdio[3]?.once('data', resolve));
    expect(killed.kill('SIGTERM')).toBe(true);
    expect(await exitOf(killed)).toEqual([null, 'SIGTERM']);
    expect(killed.signalCode).toBe('SIGTERM');
    // Ended and reaped: its pid is no longer this child's to signal.
    expect(killed.kill('SIGKILL')).toBe(false);
  });

  it('gives the process the descriptors asked for: sockets to the host both ways, the host own, /dev/null', async () => {
    const child = start('readlink /proc/$$/fd/0 >&3; readlink /proc/$$/fd/2 >&3; read line <&4; echo "got $line" >&3', [
      'ignore',
      'inherit',
      'inherit',
      'pipe',
      'pipe',
    ]);
    const output = readAll(child.stdio[3]);
    child.stdio[4]?.end('hello\n');
    const [stdin, stderr, reply] = (await output).trim().split('\n');
    expect(stdin).toBe('/dev/null');
    expect(stderr).toBe(readlinkSync('/proc/self/fd/2'));
    expect(reply).toBe('got hello');
    expect(await exitOf(child)).toEqual([0, null]);
  });

  it('starts the process in a session of its own, with every signal at its default and none blocked', async () => {
    // Each program reads its own /proc entry, as posix_spawn left it. Not a shell's: dash blocks
    // every signal for a moment while it waits for a command, and a command reading the shell's
    // masks then saw them all blocked (a CI run).
    const [sessionOf, session] = await outputOf('/usr/bin/cut', ['-d', ' ', '-f6', '/proc/self/stat']);
    expect(Number(session)).toBe(sessionOf.pid);
    // Node ignores SIGPIPE, and a child keeps what its parent ignored unless it is reset.
    const [, masks] = await outputOf('/bin/grep', ['-E', '^Sig(Blk|Ign)', '/proc/self/status']);
    // The standard signals, 1–31 (glibc keeps 32 and 33 for itself, as a process spawned by libuv does).
    const standard = (line: string) => Number(BigInt(`0x${line.split('\t')[1]}`) & 0x7fffffffn);
    const lines = masks.trim().split('\n');
    expect(lines.map((line) => line.split(':')[0])).toEqual(['SigBlk', 'SigIgn']);
    expect(lines.map(standard)).toEqual([0, 0]);
  });

  it("leaves a host's sockets to one process out of the next one", async () => {
    const first = start('exec sleep 30', ['ignore', 'ignore', 'ignore', 'pipe']);
    const second = start('for fd in /proc/$$/fd/*; do echo "${fd##*/} $(readlink "$fd")" >&3; done', [
      'ignore',
      'ignore',
      'ignore',
      'pipe',
    ]);
    const links = new Map(
      (await readAll(second.stdio[3]))
        .trim()
        .split('\n')
        .map((line) => line.split(' ') as [string, string]),
    );
    expect(links.get('0')).toBe('/dev/null');
    // Its one socket to the host; none of the first's (nor the copies made for it).
    expect([...links].filter(([, target]) => target.startsWith('socket:'))).toEqual([['3', links.get('3')]]);
    first.kill('SIGKILL');
    expect(await exitOf(first)).toEqual([null, 'SIGKILL']);
  });

  it('throws nothing for a file that cannot run: it declines, and Node spawns (and reports) it', () => {
    expect(spawnNative('/nonexistent/vf-no-such-file', [], {}, ['ignore'])).toBeUndefined();
  });

  it(`declines when ${NATIVE_SPAWN_ENV}=0`, () => {
    process.env[NATIVE_SPAWN_ENV] = '0';
    try {
      expect(spawnNative('/bin/sh', ['-c', 'exit 0'], {}, ['ignore'])).toBeUndefined();
    } finally {
      delete process.env[NATIVE_SPAWN_ENV];
    }
  });
});
