// A second "machine" for the multi-host tests: a network namespace joined to this one by a veth
// pair, with its own sshd (Debian's openssh-server, installed with apt when missing) listening on
// the namespace's address with a throwaway host key and a key authorised for this test only. The
// file system is shared, as on a cluster, so the remote task finds vf and the flow module at the
// same paths. Everything is torn down by name and pid in `stop()`.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isProcessAlive } from '@vf/core/testing';

const run = promisify(execFile);
const SBIN = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH ?? ''}`;
const env = { ...process.env, PATH: SBIN, DEBIAN_FRONTEND: 'noninteractive' };

/** A running remote host. */
export interface RemoteHost {
  readonly namespace: string;
  /** This machine's address on the link (local tasks bind here). */
  readonly localAddress: string;
  /** The remote machine's address (its sshd and its tasks). */
  readonly remoteAddress: string;
  /** `ssh` arguments that log in with the test key and trust the throwaway host key. */
  readonly sshOptions: readonly string[];
  readonly identityFile: string;
  /** The sshd; its children are the open ssh sessions. */
  readonly sshdPid: number;
  /** Takes this machine's end of the link down or up: `false` makes the remote machine unreachable. */
  setLinkUp(up: boolean): Promise<void>;
  /** Runs a command inside the namespace (as the remote machine). */
  exec(command: string, args: readonly string[]): Promise<{ stdout: string }>;
  stop(): Promise<void>;
}

/** Why the test cannot run here, or the running host. */
export type RemoteHostStart = { readonly ok: true; readonly host: RemoteHost } | { readonly ok: false; readonly reason: string };

async function succeeds(command: string, args: readonly string[]): Promise<boolean> {
  try {
    await run(command, args, { env, timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Installs openssh-server with apt when sshd is missing; returns a reason when it cannot. */
async function installSshd(): Promise<string | undefined> {
  if (existsSync('/usr/sbin/sshd')) return undefined;
  if (!(await succeeds('sh', ['-c', 'command -v apt-get']))) return 'no sshd and no apt-get to install openssh-server';
  const policy = await run('apt-cache', ['policy', 'openssh-server'], { env }).catch(() => ({ stdout: '' }));
  if (!/Candidate:\s*\d/.test(policy.stdout)) await run('apt-get', ['update'], { env, timeout: 180_000 });
  await run('apt-get', ['-o', 'DPkg::Lock::Timeout=120', 'install', '-y', '--no-install-recommends', 'openssh-server', 'openssh-client'], {
    env,
    timeout: 300_000,
  });
  return existsSync('/usr/sbin/sshd') ? undefined : 'openssh-server installed but /usr/sbin/sshd is missing';
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Creates the namespace, the veth link and the sshd. Skips (ok: false) only when this process is
 * not root or `ip netns` does not work here; any other failure throws, after undoing what was done.
 */
export async function startRemoteHost(): Promise<RemoteHostStart> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root: network namespaces need CAP_SYS_ADMIN' };
  if (!(await succeeds('ip', ['netns', 'list'])))
    return { ok: false, reason: '`ip netns` is not available (iproute2 missing or no permission)' };
  const missing = await installSshd();
  if (missing !== undefined) throw new Error(missing);

  // Names and subnet from the pid, so that runs on one machine do not collide (interface names ≤ 15 chars).
  const tag = String(process.pid % 100_000);
  const namespace = `vf-remote-${tag}`;
  const [localLink, remoteLink] = [`vfh${tag}`, `vfr${tag}`];
  const subnet = `10.231.${process.pid % 250}`;
  const [localAddress, remoteAddress] = [`${subnet}.1`, `${subnet}.2`];
  const dir = await mkdtemp(join(tmpdir(), 'vf-remote-'));
  let sshd: ChildProcess | undefined;

  const stop = async () => {
    const pid = sshd?.pid;
    if (pid !== undefined && isProcessAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      await waitFor('sshd to exit', 5_000, () => !isProcessAlive(pid)).catch(() => process.kill(pid, 'SIGKILL'));
    }
    // Deleting the namespace also deletes its end of the veth pair, and so the pair.
    await run('ip', ['link', 'delete', localLink], { env }).catch(() => undefined);
    await run('ip', ['netns', 'delete', namespace], { env }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const ip = (...args: string[]) => run('ip', args, { env, timeout: 10_000 });
    await ip('netns', 'add', namespace);
    await ip('link', 'add', localLink, 'type', 'veth', 'peer', 'name', remoteLink);
    await ip('link', 'set', remoteLink, 'netns', namespace);
    await ip('addr', 'add', `${localAddress}/24`, 'dev', localLink);
    await ip('link', 'set', localLink, 'up');
    await ip('netns', 'exec', namespace, 'ip', 'addr', 'add', `${remoteAddress}/24`, 'dev', remoteLink);
    await ip('netns', 'exec', namespace, 'ip', 'link', 'set', remoteLink, 'up');
    await ip('netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up');

    const hostKey = join(dir, 'host_ed25519');
    const identityFile = join(dir, 'id_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey], { env });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', identityFile], { env });
    const authorizedKeys = join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, await readFile(`${identityFile}.pub`), { mode: 0o600 });
    // sshd refuses to start without its privilege separation directory.
    await run('mkdir', ['-p', '/run/sshd'], { env });
    const sshdLog = join(dir, 'sshd.log');
    sshd = spawn(
      'ip',
      [
        'netns',
        'exec',
        namespace,
        '/usr/sbin/sshd',
        '-D',
        '-f',
        '/dev/null',
        '-E',
        sshdLog,
        '-h',
        hostKey,
        '-o',
        `ListenAddress=${remoteAddress}`,
        '-o',
        `AuthorizedKeysFile=${authorizedKeys}`,
        '-o',
        'PidFile=none',
        '-o',
        'StrictModes=no',
        '-o',
        'PermitRootLogin=prohibit-password',
        '-o',
        'PasswordAuthentication=no',
        '-o',
        'UsePAM=no',
      ],
      { env, stdio: 'ignore' },
    );
    sshd.on('error', () => undefined);
    const sshOptions = [
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'ConnectTimeout=5',
    ];
    const sshArgs = [...sshOptions, '-i', identityFile, '-o', 'BatchMode=yes', remoteAddress];
    await waitFor('sshd to accept the test key', 15_000, async () => {
      if (sshd?.exitCode !== null) throw new Error(`sshd exited: ${existsSync(sshdLog) ? await readFile(sshdLog, 'utf8') : ''}`);
      return succeeds('ssh', [...sshArgs, 'true']);
    });
    const host: RemoteHost = {
      namespace,
      localAddress,
      remoteAddress,
      sshOptions,
      identityFile,
      sshdPid: sshd.pid as number,
      setLinkUp: async (up) => {
        await ip('link', 'set', localLink, up ? 'up' : 'down');
      },
      exec: (command, args) => run('ip', ['netns', 'exec', namespace, command, ...args], { env, timeout: 30_000 }),
      stop,
    };
    return { ok: true, host };
  } catch (error) {
    await stop();
    throw error;
  }
}
