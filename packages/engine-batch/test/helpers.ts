// Helpers shared by this package's integration tests.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

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
