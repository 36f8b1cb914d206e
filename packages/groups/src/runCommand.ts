import { spawn } from 'node:child_process';
import { GroupsError } from './errors.js';

/** What a finished command returned. */
export interface CommandResult {
  /** Exit code; `null` when a signal ended it. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of a {@link CommandRunner} call. */
export interface CommandOptions {
  /** Written to the command's standard input, which is then closed. */
  readonly input?: string;
  /** Added to (and overriding) the environment of this process. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Killed (SIGKILL) after this many ms, and the call rejects with code `'TIMEOUT'`. Default 60 s. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
}

/**
 * Runs one command and collects its output; the injection point for scheduler commands
 * (`sbatch`, `squeue`, ...), so that logic can be tested with a fake and production uses {@link runCommand}.
 * Rejects only when the command cannot start or times out; a non-zero exit is a result.
 */
export type CommandRunner = (command: string, args: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

/** The default {@link CommandRunner}: `child_process.spawn` without a shell, bounded by a timeout. */
export const runCommand: CommandRunner = (command, args, options = {}) => {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new GroupsError('TIMEOUT', `${command} ${args.join(' ')} did not finish within ${timeoutMs} ms`, { details: { command } }));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const code = error.code === 'ENOENT' ? 'COMMAND_NOT_FOUND' : 'SCHEDULER';
      const why = error.code === 'ENOENT' ? 'not found (is it installed and on PATH?)' : error.message;
      reject(new GroupsError(code, `cannot run ${command}: ${why}`, { cause: error, details: { command } }));
    });
    child.once('close', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
    // A command that does not read its input closes the pipe early: that is not our error.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
};
