import { createRequire } from 'node:module';
import type * as Zmq from 'zeromq';

/**
 * zeromq, loaded with `require`. It is a CommonJS package: imported from an ES module, Node first
 * scans its files for their export names (cjs-module-lexer), which cost every process (the host,
 * each task) ~10 ms of CPU more than `require` (measured: 23-30 against 15 ms to load it).
 */
export const zmq: typeof Zmq = createRequire(import.meta.url)('zeromq');
