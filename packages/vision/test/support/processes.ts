import { execFileSync } from 'node:child_process';

/** Processes whose command line contains `marker` (a unique temp path), as `pid command` lines. */
export function processesWith(marker: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(marker) && !line.includes('ps -eo'));
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes; resolves with its last answer. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}
