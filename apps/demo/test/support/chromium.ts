import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Makes sure Debian's chromium is installed, installing it with apt-get when it is missing and we
 * are root (CI runs as root on a bare machine; `npx playwright install` cannot download there).
 * Returns the browser's path, or why it cannot be had. Bounded: apt gets `timeoutMs` in all.
 */
export function ensureChromium(timeoutMs = 420_000): { path: string; installMs?: number } | { missing: string } {
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  if (process.platform !== 'linux' || process.getuid?.() !== 0)
    return { missing: `${CHROMIUM} is missing and installing it needs root on Debian` };
  if (spawnSync('sh', ['-c', 'command -v apt-get']).status !== 0) return { missing: `${CHROMIUM} is missing and there is no apt-get` };
  const started = Date.now();
  const result = spawnSync(
    'sh',
    ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium'],
    { timeout: timeoutMs, encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
  );
  if (result.status !== 0 || !existsSync(CHROMIUM)) {
    const why = result.error?.message ?? result.stderr.trim().split('\n').slice(-3).join(' | ');
    return { missing: `installing chromium with apt-get failed: ${why}` };
  }
  return { path: CHROMIUM, installMs: Date.now() - started };
}
