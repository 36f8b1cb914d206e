// Helpers shared by this package's integration tests.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The non-empty lines of `file`, or none while it does not exist. */
export const lines = async (file: string): Promise<string[]> =>
  existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter(Boolean) : [];

/** Polls `check` every 20 ms until it holds; rejects naming `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Parameters of `flows/replicas.ts` writing into `dir`: 3 worker replicas, 2 ms of work per item. */
export const replicasParams = (dir: string, items: number) => ({
  items,
  workMs: 2,
  nbTasks: 3,
  pidFile: join(dir, 'pids'),
  outA: join(dir, 'a.txt'),
  outB: join(dir, 'b.txt'),
});
