// Where Node's headers are: build.mjs builds vf's native helper with them, and the tests check
// what it was built with from the same answer.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The folder of Node's headers (the first with node_api.h; `VF_NODE_HEADERS` first), or undefined. */
export function nodeHeaders() {
  return [
    process.env.VF_NODE_HEADERS,
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].find((dir) => dir !== undefined && existsSync(join(dir, 'node_api.h')));
}

/**
 * Whether libuv's header sits in `headers`. It comes with Node's own headers, not always with a
 * distribution's: without it the helper is built without its event-loop bell (tasks then listen to
 * bells with a net.Socket).
 */
export function hasLibuvHeader(headers) {
  return existsSync(join(headers, 'uv.h'));
}
