import { closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The owner file of a run's directories (the run directory in the temporary directory, the
 * shared-memory directory on `/dev/shm`): which host process made them. Nothing in a process can
 * catch a SIGKILL, so a host killed in the few windows where no task would remove them either (the
 * program compiling, tasks starting, a last task stuck in synchronous code) leaves them behind; a
 * later host removes those whose owner is gone (`staleRuns.ts`), and only those: a directory without
 * an owner file is never taken for a stale run.
 */
export const RUN_OWNER_FILE = '.owner';

/** An owner file is one short JSON line: anything longer is not one. */
export const RUN_OWNER_MAX_BYTES = 512;

/** Which process made a run's directories, as its owner file holds it. */
export interface RunOwner {
  readonly pid: number;
  /**
   * When the process started, in clock ticks after boot (`/proc/<pid>/stat`, field 22; Linux): a
   * pid taken again by another process has another start time.
   */
  readonly startTime?: string;
  /** The pid namespace the pid belongs to (`/proc/self/ns/pid`; Linux): a pid means nothing in another one. */
  readonly pidNamespace?: string;
}

/**
 * The start time (field 22, clock ticks after boot) and state (field 3) in the text of a
 * `/proc/<pid>/stat`; undefined if it is not one. The command name (field 2) is in parentheses and
 * may itself hold spaces and parentheses: the fields are counted from the last `)`.
 */
export function parseProcStat(stat: string): { readonly state: string; readonly startTime: string } | undefined {
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  const fields = stat
    .slice(end + 1)
    .trim()
    .split(' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || !/^[A-Za-z]$/.test(state) || startTime === undefined || !/^[0-9]{1,20}$/.test(startTime)) return undefined;
  return { state, startTime };
}

let self: RunOwner | undefined;

/** This process, as an owner file records it (read once: none of it changes while the process lives). */
export function currentRunOwner(): RunOwner {
  if (self !== undefined) return self;
  let startTime: string | undefined;
  let pidNamespace: string | undefined;
  if (process.platform === 'linux') {
    try {
      startTime = parseProcStat(readFileSync('/proc/self/stat', 'utf8'))?.startTime;
      pidNamespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      // No /proc (a sandbox): the owner is the pid alone, which a sweep then never judges (see ownerIsGone).
    }
  }
  self = {
    pid: process.pid,
    ...(startTime === undefined ? {} : { startTime }),
    ...(pidNamespace === undefined ? {} : { pidNamespace }),
  };
  return self;
}

/**
 * Writes `directory`'s owner file: this process (mode 0600, `O_EXCL|O_NOFOLLOW` like every file of
 * a run). Called right after the directory is made, in the same synchronous step. Best effort: a
 * run whose owner file cannot be written goes on, its directories are then only never swept.
 */
export function writeRunOwner(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(join(directory, RUN_OWNER_FILE), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    writeSync(fd, `${JSON.stringify(currentRunOwner())}\n`);
  } catch {
    // A full disk or tmpfs: the run itself says so if it matters.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The owner an owner file's text names; undefined when it names none (torn, edited, another format). */
export function parseRunOwner(text: string): RunOwner | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { pid, startTime, pidNamespace } = value as Record<string, unknown>;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (startTime !== undefined && (typeof startTime !== 'string' || !/^[0-9]{1,20}$/.test(startTime))) return undefined;
  if (pidNamespace !== undefined && (typeof pidNamespace !== 'string' || pidNamespace.length > 64)) return undefined;
  return {
    pid,
    ...(startTime === undefined ? {} : { startTime }),
    ...(pidNamespace === undefined ? {} : { pidNamespace }),
  };
}

/**
 * Whether the process an owner file names is gone, for sure: its pid runs nothing, or a zombie, or
 * another process (another start time). False whenever this process cannot tell: the owner lives in
 * another pid namespace (a container sharing `/dev/shm`), or either side's namespace is unknown.
 */
export function ownerIsGone(owner: RunOwner, readProcFile: (path: string) => string = readProcText): boolean {
  if (process.platform !== 'linux') {
    // No start time to compare: a pid taken again passes for its owner, whose directories then stay.
    try {
      process.kill(owner.pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
  const namespace = currentRunOwner().pidNamespace;
  if (namespace === undefined || owner.pidNamespace !== namespace) return false;
  let stat: string;
  try {
    stat = readProcFile(`/proc/${owner.pid}/stat`);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
  const parsed = parseProcStat(stat);
  if (parsed === undefined) return false;
  // A zombie (killed, not reaped yet by its parent) removes nothing any more.
  if (parsed.state === 'Z' || parsed.state === 'X') return true;
  return owner.startTime !== undefined && parsed.startTime !== owner.startTime;
}

/** `/proc` files are made by the kernel on read: a synchronous read costs no disk and no wait. */
function readProcText(path: string): string {
  return readFileSync(path, 'utf8');
}

/**
 * Removes the run directory `directory` if nothing is left in it but its owner file: the last task
 * of a run to leave removes it, the others leave it (with its owner file, so that a sweep can still
 * tell whose it is if the last one is killed). Never throws.
 */
export function removeRunDirectoryIfEmpty(directory: string): void {
  try {
    rmdirSync(directory);
    return;
  } catch {
    // not empty (or gone): see what is left
  }
  try {
    const names = readdirSync(directory);
    if (names.length !== 1 || names[0] !== RUN_OWNER_FILE) return;
    rmSync(join(directory, RUN_OWNER_FILE), { force: true });
    rmdirSync(directory);
  } catch {
    // another task of the run got there first, or one more file came
  }
}
