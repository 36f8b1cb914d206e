// A real one-node SLURM cluster for the integration tests: Debian's slurm-wlm and munge, installed
// with apt when missing, configured in a temporary folder (own ports, own munge socket, so nothing
// on the machine is touched or clashes), daemons started in the foreground so that their pids are
// ours, and every one of them stopped by pid at the end.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '@vf/core/testing';
import { runCommand } from '../src/runCommand.js';

const SBIN_PATH = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH ?? ''}`;
const REQUIRED = ['sbatch', 'squeue', 'scancel', 'sinfo', 'slurmctld', 'slurmd', 'munged', 'mungekey'];

/** A running cluster: pass {@link SlurmCluster.env} to every SLURM client command. */
export interface SlurmCluster {
  readonly dir: string;
  /** `SLURM_CONF` (and a PATH with sbin) for `sbatch`, `squeue`, ... */
  readonly env: Readonly<Record<string, string>>;
  /** Seconds spent installing packages (0 when they were there). */
  readonly installSeconds: number;
  /** Seconds from starting the daemons to the node being idle. */
  readonly startSeconds: number;
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** Why SLURM is unavailable, or the running cluster. */
export type SlurmStart = { readonly ok: true; readonly cluster: SlurmCluster } | { readonly ok: false; readonly reason: string };

async function missingCommands(): Promise<string[]> {
  const missing: string[] = [];
  for (const name of REQUIRED) {
    const found = await runCommand('sh', ['-c', `command -v ${name}`], { env: { PATH: SBIN_PATH }, timeoutMs: 5_000 });
    if (found.code !== 0) missing.push(name);
  }
  return missing;
}

/** Installs slurm-wlm and munge with apt (as root); returns a reason when it cannot. */
async function install(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root, cannot apt-get install slurm-wlm munge';
  const apt = await runCommand('sh', ['-c', 'command -v apt-get'], { timeoutMs: 5_000 });
  if (apt.code !== 0) return 'no apt-get on this machine';
  const env = { DEBIAN_FRONTEND: 'noninteractive', PATH: SBIN_PATH };
  // A fresh machine has no package lists: update only then (it costs ~10 s).
  const policy = await runCommand('apt-cache', ['policy', 'slurm-wlm'], { env, timeoutMs: 30_000 });
  if (!/Candidate:\s*\d/.test(policy.stdout)) {
    const update = await runCommand('apt-get', ['update'], { env, timeoutMs: 180_000 });
    if (update.code !== 0) return `apt-get update failed: ${update.stderr.trim().slice(-500)}`;
  }
  const result = await runCommand(
    'apt-get',
    ['-o', 'DPkg::Lock::Timeout=120', 'install', '-y', '--no-install-recommends', 'slurm-wlm', 'munge'],
    {
      env,
      timeoutMs: 300_000,
    },
  );
  if (result.code !== 0) return `apt-get install slurm-wlm munge failed: ${result.stderr.trim().slice(-500)}`;
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const uid = await runCommand('id', ['-u', name], { timeoutMs: 5_000 });
  const gid = await runCommand('id', ['-g', name], { timeoutMs: 5_000 });
  if (uid.code !== 0 || gid.code !== 0) throw new Error(`user ${name} does not exist (is munge installed?)`);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Stops a daemon by pid: SIGTERM, then SIGKILL after 5 s. */
async function stopPid(pid: number): Promise<void> {
  if (!isProcessAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  try {
    await waitFor(`pid ${pid} to exit`, 5_000, () => !isProcessAlive(pid));
  } catch {
    if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    await waitFor(`pid ${pid} to die`, 2_000, () => !isProcessAlive(pid)).catch(() => {});
  }
}

function slurmConf(dir: string, ctldPort: number, slurmdPort: number): string {
  return `# vf test cluster: one node, localhost, job completion log (read by sacct -c), no cgroups
ClusterName=vftest
SlurmctldHost=localhost
SlurmctldPort=${ctldPort}
SlurmdPort=${slurmdPort}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=${dir}/munge/munge.socket
CredType=cred/munge
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/slurmctld.log
SlurmdLogFile=${dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/filetxt
JobCompLoc=${dir}/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${availableParallelism()} RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
`;
}

/**
 * Installs (when missing), configures and starts a one-node SLURM cluster; waits (bounded) for the
 * node to be idle. Returns `{ ok: false, reason }` only when SLURM cannot be installed here.
 */
export async function startSlurmCluster(): Promise<SlurmStart> {
  const installStart = performance.now();
  let missing = await missingCommands();
  if (missing.length > 0) {
    const reason = await install();
    if (reason !== undefined) return { ok: false, reason: `${reason} (missing: ${missing.join(', ')})` };
    missing = await missingCommands();
    if (missing.length > 0) return { ok: false, reason: `still missing after apt-get install: ${missing.join(', ')}` };
  }
  const installSeconds = (performance.now() - installStart) / 1000;

  const startedAt = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'vf-slurm-'));
  await chmod(dir, 0o755);
  const munge = await userIds('munge');
  const mungeDir = join(dir, 'munge');
  await mkdir(mungeDir);
  // munged insists that everyone may traverse its socket's folder.
  await chmod(mungeDir, 0o755);
  await chown(mungeDir, munge.uid, munge.gid);
  await mkdir(join(dir, 'state'));
  await mkdir(join(dir, 'spool'));
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const confPath = join(dir, 'slurm.conf');
  await writeFile(confPath, slurmConf(dir, ctldPort, slurmdPort));
  const env = { SLURM_CONF: confPath, PATH: SBIN_PATH };

  const children: ChildProcess[] = [];
  const stop = async () => {
    // Jobs first, so slurmstepd and job processes end before their daemon does.
    await runCommand('scancel', ['--full', '--user=root'], { env, timeoutMs: 10_000 }).catch(() => {});
    for (const child of [...children].reverse()) if (child.pid !== undefined) await stopPid(child.pid);
    await rm(dir, { recursive: true, force: true });
  };
  const daemon = (command: string, args: string[], uid?: number, gid?: number) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: 'ignore',
      ...(uid === undefined ? {} : { uid, gid }),
    });
    child.on('error', () => {});
    children.push(child);
    return child;
  };
  const logs = async () => {
    const parts: string[] = [];
    for (const name of ['munge/munged.log', 'slurmctld.log', 'slurmd.log']) {
      const file = join(dir, name);
      if (existsSync(file)) parts.push(`--- ${name}\n${(await readFile(file, 'utf8')).slice(-2000)}`);
    }
    return parts.join('\n');
  };

  try {
    const key = join(mungeDir, 'munge.key');
    const keygen = await runCommand('runuser', ['-u', 'munge', '--', 'mungekey', '--create', `--keyfile=${key}`], {
      env,
      timeoutMs: 10_000,
    });
    if (keygen.code !== 0) throw new Error(`mungekey failed: ${keygen.stderr}`);
    const socket = join(mungeDir, 'munge.socket');
    daemon(
      'munged',
      [
        '--foreground',
        `--socket=${socket}`,
        `--key-file=${key}`,
        `--pid-file=${join(mungeDir, 'munged.pid')}`,
        `--log-file=${join(mungeDir, 'munged.log')}`,
        `--seed-file=${join(mungeDir, 'munged.seed')}`,
      ],
      munge.uid,
      munge.gid,
    );
    await waitFor('the munge socket', 10_000, () => existsSync(socket));
    daemon('slurmctld', ['-D', '-f', confPath]);
    daemon('slurmd', ['-D', '-N', 'localhost', '-f', confPath]);
    await waitFor('node localhost to be idle', 30_000, async () => {
      for (const child of children) if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited with ${child.exitCode}`);
      const info = await runCommand('sinfo', ['-h', '-n', 'localhost', '-o', '%t'], { env, timeoutMs: 5_000 });
      return info.code === 0 && info.stdout.trim() === 'idle';
    });
  } catch (error) {
    const detail = await logs();
    await stop();
    throw new Error(`cannot start SLURM: ${(error as Error).message}\n${detail}`);
  }
  const startSeconds = (performance.now() - startedAt) / 1000;
  const pids = children.map((child) => child.pid).filter((pid): pid is number => pid !== undefined);
  return { ok: true, cluster: { dir, env, installSeconds, startSeconds, pids, stop } };
}
