import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';

/** Commander parser: an integer ≥ 1. */
export function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('a positive integer is expected.');
  return number;
}

/** Commander parser: a TCP port, 0 meaning any free one. */
export function port(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65535)
    throw new InvalidArgumentError('a port number (0 for any free port) is expected.');
  return number;
}

/** Commander parser: a number ≥ 0. */
export function nonNegative(value: string): number {
  const number = Number(value);
  if (!(number >= 0)) throw new InvalidArgumentError('a number ≥ 0 is expected.');
  return number;
}

/** Commander parser: a video size `WIDTHxHEIGHT`, each at least 16. */
export function videoSize(value: string): { width: number; height: number } {
  const match = /^(\d+)x(\d+)$/.exec(value);
  if (match === null || Number(match[1]) < 16 || Number(match[2]) < 16)
    throw new InvalidArgumentError('WIDTHxHEIGHT, e.g. 640x360, is expected.');
  return { width: Number(match[1]), height: Number(match[2]) };
}

/**
 * A path the user typed, made absolute against the directory they typed it in: `INIT_CWD` when set
 * (pnpm and npm run scripts in the package's folder, here `apps/demo`, and put the user's directory
 * there), else the working directory.
 */
export function userPath(value: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const base = env.INIT_CWD === undefined || env.INIT_CWD === '' ? cwd : env.INIT_CWD;
  return resolve(base, value);
}
