import { createRequire } from 'node:module';
import type * as Zmq from 'zeromq';
import { bundledPackage } from '../runtime/bundledModules.js';

let loaded: typeof Zmq | undefined;

/**
 * zeromq, loaded on first use: a process that imports vf but never opens a socket (the in-process
 * engine, a host that only plans) does not load its addon. A task started from a task program
 * takes the copy the program carries (`runtime/taskProgram.ts`); any other process `require`s it.
 * It is a CommonJS package: imported from an ES module, Node first scans its files for their export
 * names (cjs-module-lexer), which cost every process ~10 ms of CPU more than `require` (measured:
 * 23-30 against 15 ms to load it).
 */
export function zeromq(): typeof Zmq {
  loaded ??= (bundledPackage('zeromq') as typeof Zmq | undefined) ?? (createRequire(import.meta.url)('zeromq') as typeof Zmq);
  return loaded;
}
