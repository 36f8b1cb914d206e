/**
 * What a user of the published packages gets: every package under `packages/` is packed with
 * `pnpm pack` (as `pnpm publish` would), the tarballs are installed with plain npm into a fresh
 * folder outside the workspace, and a JavaScript and a TypeScript flow module run there on both
 * multi-process engines. The machines reach only the npm registry, so any install script that
 * downloads from elsewhere (libtensorflow for `@tensorflow/tfjs-node-gpu`) fails the install here.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const fixtures = fileURLToPath(new URL('../fixtures', import.meta.url));
const packageDirs = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .filter((dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private !== true);

interface PublishedManifest {
  name: string;
  version: string;
  license?: string;
  keywords?: string[];
  homepage?: string;
  repository?: { url?: string; directory?: string };
  bugs?: { url?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

let work: string;
const tarballs: string[] = [];
const manifests = new Map<string, PublishedManifest>();
const licensed = new Set<string>();

/**
 * The environment of a user's shell: without what `pnpm exec`/vitest add, NODE_PATH above all (it
 * lists the workspace's packages, through which the installed ones would find what they lack).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_PATH' || key === 'NODE_OPTIONS' || key.startsWith('npm_') || key.startsWith('VITEST') || key.startsWith('PNPM_'))
      continue;
    env[key] = value;
  }
  return env;
}

/** Runs a command with a bound on its time; the error says what it printed. */
async function sh(file: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await run(file, args, {
      cwd,
      env: userEnv(),
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    // Quoted line by line: the child's stack frames must not read as this error's own.
    const output = `${stdout}\n${stderr}`.trim().slice(-6000).replace(/^/gm, '  | ');
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd} (${(error as { code?: unknown }).code ?? 'no code'}):\n${output}`);
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vf-pack-check-'));
  const packs = join(work, 'tarballs');
  mkdirSync(packs);
  // The tarballs hold dist/: build (a cache hit when `pnpm lint` has just built everything).
  await sh('pnpm', ['build'], root, 300_000);
  for (const dir of packageDirs) {
    const before = new Set(readdirSync(packs));
    await sh('pnpm', ['pack', '--pack-destination', packs], dir, 60_000);
    const tarball = readdirSync(packs).find((name) => !before.has(name));
    if (tarball === undefined) throw new Error(`pnpm pack wrote no tarball for ${dir}`);
    const unpacked = join(work, 'unpacked', tarball);
    mkdirSync(unpacked, { recursive: true });
    await sh('tar', ['-xzf', join(packs, tarball), '-C', unpacked], work, 30_000);
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8')) as PublishedManifest;
    manifests.set(manifest.name, manifest);
    if (existsSync(join(unpacked, 'package', 'LICENSE'))) licensed.add(manifest.name);
    tarballs.push(join(packs, tarball));
  }
}, 420_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the published packages', () => {
  it('each carry the LICENSE and full metadata, and no workspace tooling', () => {
    expect(manifests.size).toBe(packageDirs.length);
    for (const [name, manifest] of manifests) {
      expect(licensed.has(name), `${name}: LICENSE in the tarball`).toBe(true);
      expect(manifest.license).toBe('MIT');
      expect(manifest.keywords?.length ?? 0, `${name}: keywords`).toBeGreaterThan(0);
      expect(manifest.homepage, `${name}: homepage`).toMatch(/^https:\/\//);
      expect(manifest.repository?.url, `${name}: repository`).toMatch(/^git\+https:\/\/.+\.git$/);
      expect(manifest.bugs?.url, `${name}: bugs`).toMatch(/^https:\/\//);
      expect(manifest.devDependencies, `${name}: devDependencies are not published`).toBeUndefined();
      expect(JSON.stringify(manifest), `${name}: no workspace: range left`).not.toContain('workspace:');
    }
  });

  it('share one @vf/core through a peer range, and leave the native TensorFlow.js builds optional', () => {
    const core = manifests.get('@vf/core');
    expect(core?.dependencies?.tsx, '@vf/core ships the TypeScript loader its task processes use').toBeDefined();
    for (const [name, manifest] of manifests) {
      if (name === '@vf/core') continue;
      expect(manifest.dependencies?.['@vf/core'], `${name}: @vf/core is not a dependency of its own`).toBeUndefined();
      // Every 0.x release of the fixed group: changesets 2 would bump the dependents of a `^0.x` peer to 1.0.0.
      expect(manifest.peerDependencies?.['@vf/core'], `${name}: @vf/core peer range`).toBe('>=0.1.0 <1.0.0');
      expect(manifest.version, `${name}: released with @vf/core (a fixed group)`).toBe(core?.version);
    }
    const gpu = manifests.get('@vf/gpu');
    for (const native of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      expect(gpu?.dependencies?.[native], `${native} is not a hard dependency`).toBeUndefined();
      expect(gpu?.peerDependenciesMeta?.[native]?.optional, `${native} is an optional peer`).toBe(true);
    }
  });

  // npm (flat node_modules), pnpm (strict, isolated node_modules, dependency build scripts not run
  // by default) and yarn classic (which refuses any dependency whose `engines` excludes this Node):
  // the packages must work with each. pnpm outside a project runs through corepack, which needs the
  // pinned `packageManager`; yarn comes from the npm registry, with a cache of its own (the tarballs
  // keep one name from run to run).
  const installers = [
    { installer: 'npm', command: 'npm', args: ['install', '--no-audit', '--no-fund', '--loglevel=error'] },
    { installer: 'pnpm', command: 'pnpm', args: ['add', '--reporter=silent'] },
    { installer: 'yarn', command: 'npx', args: ['--yes', 'yarn@1.22.22', 'add', '--silent', '--non-interactive'] },
  ] as const;
  describe.each(installers)('installed with $installer outside the workspace', ({ installer, command, args }) => {
    let app: string;

    beforeAll(async () => {
      app = join(work, `app-${installer}`);
      mkdirSync(app);
      const packageManager = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { packageManager: string }).packageManager;
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'vf-pack-check-app', private: true, type: 'module', ...(installer === 'pnpm' ? { packageManager } : {}) }),
      );
      cpSync(fixtures, app, { recursive: true });
      const cache = installer === 'yarn' ? ['--cache-folder', join(work, 'yarn-cache')] : [];
      await sh(command, [...args, ...cache, ...tarballs], app, 300_000);
    }, 320_000);

    // A TypeScript host runs under a loader the user has (e.g. `npx tsx host.mts`): here the
    // workspace's tsx, which the installed packages cannot see. The task processes vf starts must
    // then load the TypeScript flow with the tsx that @vf/core itself depends on.
    const workspaceTsx = pathToFileURL(createRequire(join(root, 'packages/core/package.json')).resolve('tsx')).href;
    const cases = [
      { flow: 'flow.mjs', engine: 'batch', loader: [] },
      { flow: 'flow.mjs', engine: 'realtime', loader: [] },
      { flow: 'flow.ts', engine: 'batch', loader: ['--import', workspaceTsx] },
      { flow: 'flow.ts', engine: 'realtime', loader: ['--import', workspaceTsx] },
    ];
    const squares = Array.from({ length: 20 }, (_, index) => index * index);

    it.each(cases)('runs $flow on the $engine engine', async ({ flow, engine, loader }) => {
      const out = `${flow}.${engine}.out`;
      const stdout = await sh(process.execPath, [...loader, 'host.mjs', flow, engine, out], app, 90_000);
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
        status: string;
        error?: string;
        lines: number[];
        scraped: number;
      };
      expect(result.error).toBeUndefined();
      expect(result.status).toBe('completed');
      expect(result.scraped, 'the sink count on /metrics').toBe(result.lines.length);
      if (engine === 'batch') expect(result.lines).toEqual(squares);
      else {
        // The realtime engine may drop stale items: what arrives is squares, in order.
        expect(result.lines.length).toBeGreaterThan(0);
        expect(result.lines.every((line) => squares.includes(line))).toBe(true);
        expect([...result.lines].sort((a, b) => a - b)).toEqual(result.lines);
      }
      expect(existsSync(resolve(app, 'node_modules/@vf/core/package.json'))).toBe(true);
    });
  });
});
