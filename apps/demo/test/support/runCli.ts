import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The demo app's folder. */
export const appDir = fileURLToPath(new URL('../..', import.meta.url));

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
  /** Working directory of the CLI. Default: the app's folder (as `pnpm demo` runs it). */
  readonly cwd?: string;
  /** Start it in a process group of its own (`detached`), as a shell does a foreground job: Ctrl-C tests signal the group. */
  readonly detached?: boolean;
  /** Run this built entry (e.g. `dist/main.js`) with plain node instead of the TypeScript source through tsx. */
  readonly entry?: string;
}

/** Starts `vf-demo` with `args` (plus `--no-progress` noise aside, the real CLI). */
export function startCli(args: readonly string[], options: CliOptions = {}): CliRun {
  const marker = options.marker ?? newMarker();
  // tsx by URL: a CLI started in another directory would not find it by name.
  const source = [
    '--import',
    pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
    '--conditions=@vf/source',
    join(appDir, 'src/main.ts'),
  ];
  const entry = options.entry === undefined ? source : [options.entry];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: options.cwd ?? appDir,
    env: { ...process.env, ...options.env, VF_DEMO_TEST_MARKER: marker },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached === true,
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
