import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const appDir = fileURLToPath(new URL('../..', import.meta.url));

/** A run of the demo's CLI as a child process, exactly as `pnpm demo` runs it (tsx, source condition). */
export interface CliRun {
  readonly child: ChildProcess;
  /** Marker in the environment of the CLI and everything it starts (task processes, ffmpeg). */
  readonly marker: string;
  /** Resolves with the exit code and the output once the CLI has exited. */
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stdout(): string;
}

/** Options of {@link startCli}. */
export interface CliOptions {
  /** Added to the environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** The marker to put in the environment (default: a new one). */
  readonly marker?: string;
}

/** Starts `vf-demo` with `args` (plus `--no-progress` noise aside, the real CLI). */
export function startCli(args: readonly string[], options: CliOptions = {}): CliRun {
  const marker = options.marker ?? newMarker();
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@vf/source', 'src/main.ts', ...args], {
    cwd: appDir,
    env: { ...process.env, ...options.env, VF_DEMO_TEST_MARKER: marker },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, marker, done, stdout: () => stdout };
}

/** A fresh marker for {@link startCli}: put it in the environment of anything else a test starts too. */
export function newMarker(): string {
  return `vf-demo-test-${randomUUID()}`;
}

/**
 * Processes still alive that carry `marker` in their environment: whatever the CLI started (task
 * processes, ffmpeg, chromium is not among them) and left behind. Reads /proc (Linux).
 */
export function processesWithMarker(marker: string): string[] {
  const found: string[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return found;
  }
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker)) {
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim()}`);
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Waits until no process carries `marker` (children may take a moment to be reaped), or returns those left. */
export async function leftovers(marker: string, waitMs = 3000): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const alive = processesWithMarker(marker);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
