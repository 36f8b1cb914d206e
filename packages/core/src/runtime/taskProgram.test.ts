import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildTaskProgram, usedVfExports } from './taskProgram.js';

const builds = vi.hoisted(() => ({ count: 0 }));
vi.mock('./esbuild.js', async (importOriginal) => {
  const { loadEsbuild } = await importOriginal<typeof import('./esbuild.js')>();
  const esbuild = loadEsbuild();
  const build: typeof esbuild.build = (options) => {
    builds.count += 1;
    return esbuild.build(options);
  };
  return { loadEsbuild: () => ({ ...esbuild, build }) };
});

describe('buildTaskProgram', () => {
  let dir: string;
  let out: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vf-program-unit-'));
    out = join(dir, 'run');
    mkdirSync(out);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return pathToFileURL(join(dir, name)).href;
  };

  it('compiles a module and the local .ts files it imports, each keeping its own import.meta.url', async () => {
    write('helper.ts', 'export const where: string = import.meta.url;\n');
    const flowUrl = write(
      'flow.ts',
      "import { where } from './helper.js';\nexport const own: string = import.meta.url;\nexport { where };\n",
    );
    const program = (await buildTaskProgram(out, [flowUrl]))?.path;
    expect(program).toBe(join(out, 'task.cjs'));
    const text = readFileSync(program as string, 'utf8');
    expect(text).toContain(JSON.stringify(pathToFileURL(join(dir, 'helper.ts')).href));
    expect(text).toContain(JSON.stringify(flowUrl));
    // Registered by its original URL, imported lazily (inside the registered function).
    const registered = text.split('\n').find((line) => line.includes(`${JSON.stringify(flowUrl)}: `));
    expect(registered).toContain('init_flow()');
    expect(readFileSync(`${program as string}.map`, 'utf8')).toContain('flow.ts');
  });

  it('leaves installed CommonJS packages outside, required by absolute path, and takes ES module packages in', async () => {
    // Beside this test, so that the packages resolve from core's own dependencies.
    const local = join(import.meta.dirname, `taskProgram.fixture-${process.pid}.tmp.ts`);
    writeFileSync(local, "import Table from 'cli-table3';\nimport { z } from 'zod';\nexport const both = [Table, z.string()];\n");
    try {
      const program = (await buildTaskProgram(out, [pathToFileURL(local).href]))?.path;
      const text = readFileSync(program as string, 'utf8');
      expect(text).toMatch(/require\("\/[^"]*\/node_modules\/[^"]*cli-table3[^"]*"\)/);
      expect(text).not.toMatch(/require\("[^"]*zod/);
      expect(text).toContain('node_modules/.pnpm/zod@');
    } finally {
      rmSync(local, { force: true });
    }
  });

  it("carries zeromq's JavaScript, its addon required by the path this host loaded it from, cmake-ts's loader left out", async () => {
    const text = readFileSync((await buildTaskProgram(out, [write('flow.ts', 'export const value = 1;\n')]))?.path as string, 'utf8');
    const addons = Object.keys(createRequire(import.meta.url).cache).filter((file) => /[\\/]zeromq[\\/]build[\\/].*\.node$/.test(file));
    expect(addons).toHaveLength(1);
    expect(text).toContain(`require(${JSON.stringify(addons[0])})`);
    expect(text).toMatch(/^\/\/ .*[\\/]zeromq[\\/]lib[\\/]index\.js$/m);
    expect(text).not.toMatch(/require\("[^"]*zeromq[\\/]lib/);
    expect(text).not.toContain('cmake-ts');
  });

  it("carries no zod: a task checks its control messages by hand and loads zod only for a node's join or onError options", async () => {
    const local = join(import.meta.dirname, `taskProgram.fixture-${process.pid}.tmp.ts`);
    // A flow module as users write one, and the runtime every task program holds.
    writeFileSync(
      local,
      "export { Flow, ProcessorNode } from '@vf/core';\nexport { IntProducer } from '@vf/core/nodes';\nexport * from '@vf/core/engine';\n",
    );
    try {
      const text = readFileSync((await buildTaskProgram(out, [pathToFileURL(local).href]))?.path as string, 'utf8');
      expect(text).toContain('function parseHostMessage(');
      // Neither bundled nor imported at start-up (only `require`d when first needed).
      expect(text).not.toContain('zod@');
      expect(text).not.toMatch(/^(?:import|var|const)[^;]*zod/m);
    } finally {
      rmSync(local, { force: true });
    }
  });

  it('gives up (undefined) on a module esbuild refuses, or one that is not a file', async () => {
    const broken = write('broken.ts', 'export const x = ;\n');
    expect(await buildTaskProgram(out, [broken])).toBeUndefined();
    expect(await buildTaskProgram(out, ['data:text/javascript,export default 1'])).toBeUndefined();
  });

  it('makes no named closure per call on the data path (kept names would cost an Object.defineProperty each)', async () => {
    // The program keeps function names (esbuild `keepNames`): a closure bound to a name inside a
    // function is wrapped in `__name()`, an Object.defineProperty every time it is made. On the
    // per-message path that cost up to 13% of a task's time (`--cpu-prof`). Write such closures inline.
    const flowUrl = write('flow.ts', 'export const x = 1;\n');
    const messenger = new URL('../transport/zmqMessenger.ts', import.meta.url).href;
    const program = (await buildTaskProgram(out, [flowUrl, messenger]))?.path;
    const text = readFileSync(program as string, 'utf8');
    const hot = [
      'runProducer',
      'runProcessor',
      'runConsumer',
      'runNodeCode',
      'publishMessage',
      '#deliverFrom',
      'readyInput',
      '#until',
      '#readRingsOrSleep',
      '#pump',
      '#acceptEnvelope',
      '#release',
      '#grant',
      '#flushCredits',
      '#takeSingle',
      'drain',
      'write(?=\\(frames)', // the ring's write, not the heartbeat's
      'encodeValue',
      'encodeFrames',
      'isPlain',
      'decodeValue',
      'parseEnvelope',
      'parseData',
      'parseDataHeader',
      'packDataHeader',
    ];
    for (const name of hot) {
      const start = text.search(new RegExp(`^\\s*(?:async )?(?:function )?${name}\\(`, 'm'));
      expect(start, `${name} is in the program`).toBeGreaterThanOrEqual(0);
      // The body: from its first brace to the one that closes it (the data path's code has no braces in strings).
      const open = text.indexOf('{', text.indexOf(')', start));
      let depth = 0;
      let end = open;
      do {
        if (text[end] === '{') depth += 1;
        else if (text[end] === '}') depth -= 1;
        end += 1;
      } while (depth > 0 && end < text.length);
      expect(text.slice(open, end), `${name} makes a named closure`).not.toContain('__name(');
    }
  });

  it('compiles the same modules again only when a file it read has changed since', async () => {
    write('helper.ts', 'export const value = 1;\n');
    const flowUrl = write('flow.ts', "export { value } from './helper.js';\n");
    const before = builds.count;
    const first = readFileSync((await buildTaskProgram(out, [flowUrl]))?.path as string, 'utf8');
    const again = join(dir, 'run2');
    mkdirSync(again);
    const second = (await buildTaskProgram(again, [flowUrl]))?.path;
    expect(second).toBe(join(again, 'task.cjs'));
    expect(readFileSync(second as string, 'utf8')).toBe(first);
    expect(readFileSync(`${second as string}.map`, 'utf8')).toContain('helper.ts');
    expect(builds.count - before).toBe(1);
    // Same size, same time stamp resolution: only the contents tell the change.
    write('helper.ts', 'export const value = 2;\n');
    const third = readFileSync((await buildTaskProgram(again, [flowUrl]))?.path as string, 'utf8');
    expect(third).toContain('value = 2');
    expect(builds.count - before).toBe(2);
  });

  it('makes an ES module of a program whose modules await at their top level (CommonJS cannot), with no code cache', async () => {
    vi.stubEnv('VF_TASK_PROGRAM_CACHE', join(dir, 'cache'));
    try {
      const flowUrl = write('flow.ts', 'export const value: number = await Promise.resolve(3);\n');
      const program = await buildTaskProgram(out, [flowUrl]);
      expect(program).toEqual({ path: join(out, 'task.mjs') });
      expect(readFileSync(join(out, 'task.mjs'), 'utf8')).toContain('await Promise.resolve(3)');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("names a CommonJS program's code cache after its text, in the program cache folder, and none without that folder", async () => {
    const flowUrl = write('flow.ts', 'export const value = 1;\n');
    vi.stubEnv('VF_TASK_PROGRAM_CACHE', 'off');
    try {
      expect((await buildTaskProgram(out, [flowUrl]))?.codeCache).toBeUndefined();
      vi.stubEnv('VF_TASK_PROGRAM_CACHE', join(dir, 'cache'));
      const first = await buildTaskProgram(out, [flowUrl]);
      expect(first?.codeCache).toMatch(new RegExp(`^${join(dir, 'cache')}/[0-9a-f]{32}\\.v8$`));
      write('flow.ts', 'export const value = 2;\n');
      const second = await buildTaskProgram(out, [flowUrl]);
      // Same length, other text: another cache (V8 would take the first one's for it).
      expect(readFileSync(second?.path as string, 'utf8').length).toBe(readFileSync(first?.path as string, 'utf8').length);
      expect(second?.codeCache).not.toBe(first?.codeCache);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  describe('in two parts: vf, and the flow that imports it through @vf/core', () => {
    /** A flow folder outside vf, where `@vf/core` is this vf (a link, as pnpm and npm workspaces make one). */
    const vfProject = () => {
      mkdirSync(join(dir, 'node_modules', '@vf'), { recursive: true });
      symlinkSync(join(import.meta.dirname, '..', '..'), join(dir, 'node_modules', '@vf', 'core'), 'dir');
    };
    const flowSource = (value: number) =>
      `import { defineFlow, Flow } from '@vf/core';\nimport { IntProducer } from '@vf/core/nodes';\nexport const value = ${value};\nexport default defineFlow(() => new Flow([new IntProducer(0, 1)], []));\n`;

    it("the flow's part holds the flow and requires vf; vf's part holds the runtime and those entry points", async () => {
      vfProject();
      const flowUrl = write('flow.ts', flowSource(1));
      const program = await buildTaskProgram(out, [flowUrl]);
      expect(program?.path).toBe(join(out, 'task.cjs'));
      expect(program?.flow?.path).toBe(join(out, 'flow.cjs'));
      const flowText = readFileSync(program?.flow?.path as string, 'utf8');
      expect(flowText).toContain('require("@vf/core")');
      expect(flowText).toContain('require("@vf/core/nodes")');
      expect(flowText).toContain(JSON.stringify(flowUrl));
      expect(flowText).not.toContain('function parseHostMessage(');
      expect(readFileSync(`${program?.flow?.path as string}.map`, 'utf8')).toContain('flow.ts');
      const vfText = readFileSync(program?.path as string, 'utf8');
      expect(vfText).toContain('function parseHostMessage(');
      expect(vfText).toContain('registerFlowProgram(');
      expect(vfText).not.toContain('export const value');
    });

    it("vf's part is ASCII, so that every task reads it as a one-byte string", async () => {
      vfProject();
      const flowUrl = write('flow.ts', flowSource(1));
      // As an engine's messenger module does (`@vf/engine-batch`): the transport is then in vf's part.
      const messengerUrl = write('messenger.ts', "export { ZmqMessenger as Messenger } from '@vf/core/engine';\n");
      const program = await buildTaskProgram(out, [flowUrl, messengerUrl]);
      expect(program?.flow?.path).toBe(join(out, 'flow.cjs'));
      const vfText = readFileSync(program?.path as string, 'utf8');
      expect(vfText).toMatch(/\bZmqMessenger ?= ?class\b/);
      // esbuild keeps the JSDoc of class members, whose ×, → and µ made the whole text two bytes a
      // character: slower to read and to compile from its code cache, in every task.
      expect([...vfText].filter((character) => character.charCodeAt(0) > 0x7f)).toEqual([]);
    });

    it("a changed flow compiles only its own part: vf's part, and the name of its code cache, stay", async () => {
      vfProject();
      vi.stubEnv('VF_TASK_PROGRAM_CACHE', join(dir, 'cache'));
      try {
        const flowUrl = write('flow.ts', flowSource(1));
        const before = builds.count;
        const first = await buildTaskProgram(out, [flowUrl]);
        expect(builds.count - before).toBe(2);
        const vfText = readFileSync(first?.path as string, 'utf8');
        write('flow.ts', flowSource(2));
        const second = await buildTaskProgram(out, [flowUrl]);
        expect(builds.count - before).toBe(3);
        expect(readFileSync(second?.flow?.path as string, 'utf8')).toContain('value = 2');
        expect(readFileSync(second?.path as string, 'utf8')).toBe(vfText);
        expect(second?.codeCache).toBe(first?.codeCache);
        expect(second?.flow?.codeCache).not.toBe(first?.flow?.codeCache);
      } finally {
        vi.unstubAllEnvs();
      }
    });

    it("stays one file where the flow reaches vf's files by path (two copies of a module of vf would differ), imports no vf, or has no cache on disk", async () => {
      vfProject();
      const errors = join(import.meta.dirname, '..', 'errors.ts');
      const byPath = write('byPath.ts', `${flowSource(1)}export { VfError } from ${JSON.stringify(errors)};\n`);
      const program = await buildTaskProgram(out, [byPath]);
      expect(program?.path).toBe(join(out, 'task.cjs'));
      expect(program?.flow).toBeUndefined();
      const noVf = write('noVf.ts', 'export const value = 1;\n');
      expect((await buildTaskProgram(out, [noVf]))?.flow).toBeUndefined();
      // No cache on disk: each host would compile both parts.
      vi.stubEnv('VF_TASK_PROGRAM_CACHE', 'off');
      try {
        const program = await buildTaskProgram(out, [write('flow.ts', flowSource(1))]);
        expect(program?.path).toBe(join(out, 'task.cjs'));
        expect(program?.flow).toBeUndefined();
      } finally {
        vi.unstubAllEnvs();
      }
    });
  });
});

describe("usedVfExports (what a split program's flow part reads of vf, from esbuild's output)", () => {
  const header = 'var import_core, import_nodes, other;\n';

  it('the properties read of every variable a require of the entry point is assigned to, sorted', () => {
    const text = `${header}import_core = require("@vf/core");\nimport_nodes = require("@vf/core/nodes");\n(0, import_core.defineFlow)(() => new import_core.Flow([new import_nodes.IntProducer()]));\nother.import_core = 1;\n`;
    expect(usedVfExports(text, '@vf/core')).toEqual(['Flow', 'defineFlow']);
    expect(usedVfExports(text, '@vf/core/nodes')).toEqual(['IntProducer']);
    expect(usedVfExports(text, '@vf/core/engine')).toBeUndefined();
  });

  it('all of it (undefined) where the namespace is passed on, re-exported, or required for its effects', () => {
    const passed = `${header}import_core = require("@vf/core");\nuse(import_core, import_core.Flow);\n`;
    expect(usedVfExports(passed, '@vf/core')).toBeUndefined();
    const reexported = `${header}import_core = require("@vf/core");\n__reExport(exports, require("@vf/core"));\n`;
    expect(usedVfExports(reexported, '@vf/core')).toBeUndefined();
    const namespace = 'var vf = __toESM(require("@vf/core"));\nvf.Flow;\n';
    expect(usedVfExports(namespace, '@vf/core')).toBeUndefined();
  });
});
