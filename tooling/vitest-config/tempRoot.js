import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'vf-tests-';

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Vitest global setup: every test run gets its own temporary root (`$TMPDIR/vf-tests-<pid>`), which
 * the test workers and every process they start inherit through `TMPDIR`.
 *
 * Why: a test run killed by a signal runs no `afterEach` and no teardown, so the temp dirs of the
 * tests it interrupted stay behind. Grouping them under the run's pid lets the next run remove the
 * roots of runs that are no longer alive, and lets a normal run remove its own root at the end.
 * Roots of runs still alive (parallel runs) are left alone.
 */
export default function setup() {
  const base = tmpdir();
  for (const entry of readdirSync(base)) {
    const pid = entry.startsWith(PREFIX) ? Number(entry.slice(PREFIX.length)) : Number.NaN;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isAlive(pid)) {
      rmSync(join(base, entry), { recursive: true, force: true });
    }
  }
  const root = join(base, `${PREFIX}${process.pid}`);
  // 0711: other users (munge, slurm daemons started by the tests) may traverse it to reach the
  // directories the tests hand them, but not list it; each test's own directory is 0700 (mkdtemp).
  // chmod rather than mkdir's mode, which the umask narrows.
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o711);
  process.env.TMPDIR = root;
  return () => {
    rmSync(root, { recursive: true, force: true });
  };
}
