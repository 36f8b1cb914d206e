'use strict';
// Preloaded (`--require`) by every task process, before any other module loads. Two things:
//
// 1. Puts back the host's NODE_EXTRA_CA_CERTS, which the host replaced for the process's start with
//    a file of only the certificates Node does not bundle (src/runtime/extraCaCerts.ts): the
//    flow's code, and any process it starts, see the host's value.
const hostExtraCaCerts = process.env.VF_HOST_NODE_EXTRA_CA_CERTS;
if (hostExtraCaCerts !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = hostExtraCaCerts;
  delete process.env.VF_HOST_NODE_EXTRA_CA_CERTS;
}

// 2. After the V8 options that configure its heap
// (TASK_V8_OPTIONS in src/runtime/forkSpawner.ts): sets each of those options back to its default
// once the heap is configured, before any other module loads. V8 accepts Node's embedded code cache
// for its built-in modules only under default flags, so every built-in loaded before the reset is
// compiled from source. Through the native helper nothing loads first; `node:v8`, the fallback
// where the helper is not built, brings its streams in uncached (~13 ms more CPU per task, measured).
// CommonJS, a file of vf's own: a `--require` preload runs before Node's ES module loader is set up.
// The options before `--require <this file>` (matched by name: the path given may be a link to it).
const own = process.execArgv.findIndex((arg, index, all) => all[index - 1] === '--require' && arg.endsWith('taskPreload.cjs'));
const resets = process.execArgv.slice(0, Math.max(0, own - 1)).filter((option) => /^--[a-z-]+=/.test(option));
const flags = resets.map((option) => option.replace(/=.*/, '=0'));
let reset = false;
try {
  const helper = { exports: {} };
  process.dlopen(helper, `${__dirname}/build/vfShm.node`);
  reset = flags.length === 0 || helper.exports.resetV8Flags(flags.join(' ')) === true;
} catch {
  // not built here: node:v8 below
}
if (!reset) for (const flag of flags) require('node:v8').setFlagsFromString(flag);
