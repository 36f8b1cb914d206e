import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../testing/leftovers.js';
import { killRemote, sshLauncher } from './sshLauncher.js';

// Stand-ins for `ssh`: one runs the remote command here (everything after `--`), one only records its arguments.
const dir = mkdtempSync(join(tmpdir(), 'vf-ssh-test-'));
const fakeSsh = join(dir, 'ssh');
const recordingSsh = join(dir, 'recording-ssh');
const argsFile = join(dir, 'args');
writeFileSync(fakeSsh, `#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec sh -c "$*"\n`);
writeFileSync(recordingSsh, `#!/bin/sh\nprintf '%s\\n' "$@" > ${argsFile}\n`);
chmodSync(fakeSsh, 0o755);
chmodSync(recordingSsh, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const exited = (child: ChildProcess) => new Promise((resolve) => child.once('exit', resolve));

describe('sshLauncher', () => {
  it('refuses keepalive settings that are not whole seconds', () => {
    expect(() => sshLauncher({ host: 'h', serverAliveInterval: 1.5 })).toThrow(/serverAliveInterval must be an integer/);
    expect(() => sshLauncher({ host: 'h', serverAliveCountMax: -1 })).toThrow(/serverAliveCountMax must be an integer/);
  });

  it('turns keepalives on by default, after the user options so that those win (ssh keeps the first value)', async () => {
    const task = sshLauncher({ host: 'h', ssh: recordingSsh, sshOptions: ['-o', 'ServerAliveInterval=9'] }).spawn({
      taskId: 0,
      label: 'n[0]',
      env: {},
      typescript: false,
    });
    await new Promise((resolve) => task.onExit(resolve));
    const args = readFileSync(argsFile, 'utf8').split('\n');
    const user = args.indexOf('ServerAliveInterval=9');
    expect(user).toBeGreaterThan(0);
    expect(args.indexOf('ServerAliveInterval=5')).toBeGreaterThan(user);
    expect(args).toContain('ServerAliveCountMax=3');
  });

  it('hands the task its host-silence limit through the environment, and refuses one under two heartbeats', async () => {
    expect(() => sshLauncher({ host: 'h', hostSilenceMs: 1_000 })).toThrow(/hostSilenceMs must be a number of ms ≥ 4000/);
    const task = sshLauncher({ host: 'h', ssh: recordingSsh, hostSilenceMs: 9_000 }).spawn({
      taskId: 0,
      label: 'n[0]',
      env: {},
      typescript: false,
    });
    await new Promise((resolve) => task.onExit(resolve));
    expect(readFileSync(argsFile, 'utf8')).toContain('VF_HOST_SILENCE_MS=9000');
  });
});

describe('killRemote', () => {
  it('kills the process group of the remote task', async () => {
    // Its own process group, as sshd gives each session; the grandchild must go too.
    const task = spawn('sh', ['-c', 'sleep 60 & wait'], { detached: true, stdio: 'ignore' });
    const gone = exited(task);
    expect(await killRemote(fakeSsh, [], task.pid as number, 'SIGKILL')).toBeUndefined();
    expect(await gone).toBeNull();
    expect(task.signalCode).toBe('SIGKILL');
  });

  it('counts a task that is already gone as killed', async () => {
    const task = spawn('true');
    await exited(task);
    expect(await killRemote(fakeSsh, [], task.pid as number, 'SIGKILL')).toBeUndefined();
  });

  it('reports, never throws, when ssh fails', async () => {
    expect(await killRemote('false', [], 1, 'SIGKILL')).toMatch(/ssh exited with code 1/);
    expect(await killRemote(join(dir, 'missing-ssh'), [], 1, 'SIGKILL')).toMatch(/ENOENT/);
    expect(isProcessAlive(process.pid)).toBe(true);
  });
});
