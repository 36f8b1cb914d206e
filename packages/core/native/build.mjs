// Builds native/build/vfShm.node, vf's optional shared-memory helper (see vfShm.c), with the C
// compiler and the Node-API headers installed with Node: no download, no node-gyp. Never fails the
// install: without the helper, shared-memory frames are read with one copy more.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasLibuvHeader, nodeHeaders } from './nodeHeaders.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, 'build', 'vfShm.node');

function build() {
  if (process.platform !== 'linux') return 'only Linux has the /dev/shm it serves';
  const headers = nodeHeaders();
  if (headers === undefined) return "Node's headers (node_api.h) are not installed";
  mkdirSync(join(here, 'build'), { recursive: true });
  const partial = `${target}.${process.pid}`;
  const uv = hasLibuvHeader(headers) ? ['-DVF_UV_BELL'] : [];
  const args = ['-O2', '-shared', '-fPIC', '-pthread', '-Wall', ...uv, `-I${headers}`, '-o', partial, join(here, 'vfShm.c')];
  const compilers = process.env.CC === undefined ? [['cc'], ['gcc'], ['g++', '-x', 'c']] : [[process.env.CC]];
  const failures = [];
  for (const [compiler, ...language] of compilers) {
    const result = spawnSync(compiler, [...language, ...args], { encoding: 'utf8' });
    if (result.status === 0) {
      renameSync(partial, target);
      return undefined;
    }
    failures.push(`${compiler}: ${result.error?.message ?? result.stderr.trim().split('\n')[0]}`);
  }
  return `no C compiler built it (${failures.join('; ')})`;
}

const failure = build();
if (failure !== undefined) console.warn(`@vf/core: shared-memory helper not built, frames are read with one copy more: ${failure}`);
