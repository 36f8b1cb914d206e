'use strict';
// Runs a task program built as CommonJS (src/runtime/taskProgram.ts) through V8's code cache:
// `node … loadTaskProgram.cjs <program.cjs> <label>`, with VF_TASK_CODE_CACHE naming the cache file
// (in the task-program cache folder, named after a hash of the program's text: V8 itself checks
// only the source's length, its own version and its flags). A task that found no cache there, or
// one V8 rejected, writes what it compiled when it exits, or just before it changes V8's options
// (VF_EAGER_OPTIMIZATION, src/runtime/tiering.ts): the bytecode of every function it ran, not only
// the top level, so the tasks of the next run of the same program parse and compile almost nothing
// (5-task flow: 530 → 430 ms from flow.run() to the first consumed message).
// Node 20 has no code cache for ES modules, nor for `require`: hence a script compiled here.
// Plain CommonJS beside the other preload, for it runs before any of vf's modules.
const { lstatSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname } = require('node:path');
const vm = require('node:vm');

/** BEFORE_V8_FLAGS_CHANGE_EVENT of src/runtime/tiering.ts. */
const BEFORE_V8_FLAGS_CHANGE_EVENT = 'vf:beforeV8FlagsChange';

const program = process.argv[2];
const programCacheFile = process.env.VF_TASK_CODE_CACHE;
delete process.env.VF_TASK_CODE_CACHE;
// The program sees the argv a plain `node program.cjs <label>` gives it.
process.argv.splice(1, 1);

/** RUN_TASK_SCRIPT of src/runtime/bundledModules.ts. */
const RUN_TASK_SCRIPT = Symbol.for('vf.runTaskScript');

// Without a loader for `import()` in compiled scripts (Node before 20.12), Node's own `require`
// (the host splits no program for such a node: src/runtime/taskProgram.ts).
const importModuleDynamically = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
if (importModuleDynamically === undefined || typeof program !== 'string') {
  require(program);
} else {
  // The second part of a split program, the flow's own modules, runs the same way, once the first
  // asks for it: `provided` gives it what it requires of vf (`@vf/core`), the first part's modules.
  globalThis[RUN_TASK_SCRIPT] = run;
  run(program, programCacheFile);
}

/**
 * Runs the CommonJS script `file` through V8's code cache `cacheFile` (none: compiled as it runs);
 * `provided(id)`, where it gives a value, answers the script's `require(id)`. Returns the script's
 * `module.exports` and the name its frames carry.
 */
function run(file, cacheFile, provided) {
  const cached = cacheFile === undefined ? undefined : readOwnFile(cacheFile);
  // A script from a code cache keeps the name it was compiled under (V8 11), and every run has a
  // directory of its own: so the script is named after its cache, the same in every run, and the
  // program told that name (its stack frames say it; `programStackTraces.ts` maps them).
  const scriptName = cacheFile === undefined ? file : cacheFile.replace(/\.v8$/, '.cjs');
  // The wrapper on a line of its own, lines counted from the next: stack frames keep the program's
  // lines and columns, which its source map maps to the user's files.
  const wrapper = '(function (exports, require, module, __filename, __dirname, __vfScriptName) {';
  const script = new vm.Script(`${wrapper}\n${readFileSync(file, 'utf8')}\n})`, {
    filename: scriptName,
    lineOffset: -1,
    cachedData: cached,
    importModuleDynamically,
  });
  if (cacheFile !== undefined && (cached === undefined || script.cachedDataRejected === true)) {
    const write = () => writeCache(script, cacheFile);
    process.once('exit', write);
    // A task may change V8's options once its first item is through (src/runtime/tiering.ts), and V8
    // takes a cache only under the flags it was made with: the cache is written just before.
    process.once(BEFORE_V8_FLAGS_CHANGE_EVENT, () => {
      process.off('exit', write);
      write();
    });
  }
  const module = new Module(file, null);
  module.filename = file;
  const nodeRequire = Module.createRequire(file);
  const scriptRequire =
    provided === undefined
      ? nodeRequire
      : Object.assign((id) => provided(id) ?? nodeRequire(id), { resolve: nodeRequire.resolve, cache: nodeRequire.cache });
  script.runInThisContext().call(module.exports, module.exports, scriptRequire, module, file, dirname(file), scriptName);
  return { exports: module.exports, scriptName };
}

/** The file's bytes, if it is a regular file of this user's that nobody else may write; else undefined. */
function readOwnFile(file) {
  try {
    const stats = lstatSync(file);
    const uid = process.getuid?.();
    if (!stats.isFile() || (uid !== undefined && stats.uid !== uid) || (stats.mode & 0o022) !== 0) return undefined;
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Written whole (a temporary file renamed into place), mode 0600; never fails the task. */
function writeCache(script, file) {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, script.createCachedData(), { mode: 0o600, flag: 'wx' });
    renameSync(temporary, file);
  } catch {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // the folder is gone: nothing to remove
    }
  }
}
