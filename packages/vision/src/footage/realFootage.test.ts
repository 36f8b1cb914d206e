import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultFootageCacheDir, realFootage } from './realFootage.js';

const dir = mkdtempSync(join(tmpdir(), 'vf-footage-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('realFootage', () => {
  it('returns a cached clip without fetching', async () => {
    const cacheDir = join(dir, 'cache');
    mkdirSync(cacheDir);
    writeFileSync(join(cacheDir, 'tree.avi'), 'cached');
    expect(await realFootage('tree.avi', { cacheDir, env: { PATH: '' } })).toEqual({ path: join(cacheDir, 'tree.avi'), fetched: false });
  });

  it('says why there is no clip when apt is absent', async () => {
    const result = await realFootage('vtest.avi', { cacheDir: join(dir, 'empty'), env: { PATH: join(dir, 'no-bin') } });
    expect(result).toEqual({ unavailable: expect.stringMatching(/apt-get\/dpkg-deb are not on PATH/) });
  });
});

describe('defaultFootageCacheDir', () => {
  it('is VF_FOOTAGE_CACHE when set, else node_modules/.cache/vf-footage in the workspace root', () => {
    expect(defaultFootageCacheDir(dir, { VF_FOOTAGE_CACHE: '/somewhere' })).toBe('/somewhere');
    const root = join(dir, 'repo');
    mkdirSync(join(root, 'packages', 'x'), { recursive: true });
    writeFileSync(join(root, 'pnpm-workspace.yaml'), 'packages: []\n');
    expect(defaultFootageCacheDir(join(root, 'packages', 'x'), {})).toBe(join(root, 'node_modules', '.cache', 'vf-footage'));
  });
});
