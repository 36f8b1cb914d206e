import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { JsonValue } from '@vf/core';
import { GroupsError } from './errors.js';
import { withLockSync } from './locks.js';

/** A job's state point: the JSON object that identifies it. */
export type Statepoint = { readonly [key: string]: JsonValue };

/** Name of the file holding a job's state point, inside the job's folder. */
export const STATEPOINT_FILE = 'vf_statepoint.json';
/** Name of the file holding a job's document, inside the job's folder. */
export const DOCUMENT_FILE = 'vf_job_document.json';
/** Lock target of a job's document: the lock itself is the folder `<job>/.vf_job_document.lock`. */
const DOCUMENT_LOCK = '.vf_job_document';

/**
 * Canonical JSON of a value, as Python's `json.dumps(value, sort_keys=True)` writes it: keys sorted,
 * `", "` and `": "` separators, non-ASCII characters escaped as `\uXXXX`. Throws `INVALID_JOB` for
 * anything JSON cannot carry faithfully (undefined, functions, NaN, class instances, ...).
 */
export function canonicalJson(value: unknown, path = 'statepoint'): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw notJson(path, 'is not a finite number');
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return asciiJsonString(value);
  if (Array.isArray(value)) return `[${value.map((item, index) => canonicalJson(item, `${path}[${index}]`)).join(', ')}]`;
  if (typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) throw notJson(path, 'is not a plain object');
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${asciiJsonString(key)}: ${canonicalJson((value as Record<string, unknown>)[key], `${path}.${key}`)}`);
    return `{${entries.join(', ')}}`;
  }
  throw notJson(path, `is a ${typeof value}`);
}

function notJson(path: string, why: string): GroupsError {
  return new GroupsError('INVALID_JOB', `state points and job documents must be JSON: ${path} ${why}`, { details: { path } });
}

function asciiJsonString(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A job's id: the md5 hex digest of the canonical JSON of its state point ({@link canonicalJson}).
 * This is signac's scheme, so ids agree with signac's for state points made of strings, integers,
 * booleans, null, lists and objects (JavaScript has no float `1.0` distinct from the integer `1`).
 */
export function calcJobId(statepoint: Statepoint): string {
  if (typeof statepoint !== 'object' || statepoint === null || Array.isArray(statepoint)) {
    throw new GroupsError('INVALID_JOB', 'a state point must be a JSON object');
  }
  return createHash('md5').update(canonicalJson(statepoint), 'utf8').digest('hex');
}

const HOST = hostname().replace(/[^A-Za-z0-9_-]/g, '_');
/** `.<12 hex>.<pid>.tmp` (before hosts were named) or `.<12 hex>.<pid>@<host>.tmp`. */
const TEMPORARY = /^\.[0-9a-f]{12}\.(\d+)(?:@([A-Za-z0-9_-]+))?\.tmp$/;
/** A temporary file this old is abandoned whoever wrote it: no write takes ten minutes. */
const ABANDONED_MS = 10 * 60_000;

/**
 * Writes `text` to `file` atomically: a temporary file in the same folder, flushed to disk, then
 * renamed over the target. A reader sees the old content or the new, never a partial write.
 * The temporary file's name carries the writer's pid and host, so that one left by a killed
 * writer can be told from one being written ({@link removeStaleTemporaries}).
 */
export function writeFileAtomic(file: string, text: string): void {
  const temporary = join(dirname(file), `.${randomBytes(6).toString('hex')}.${process.pid}@${HOST}.tmp`);
  const fd = openSync(temporary, 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temporary);
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, file);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files of {@link writeFileAtomic} left in `folder` by writers that died
 * between write and rename (SIGKILL, power loss): those of a process of this host that is gone,
 * and any older than ten minutes (a writer on another host of a shared file system). Returns
 * the names removed.
 */
export function removeStaleTemporaries(folder: string, now = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMPORARY.exec(name);
    if (match === null) continue;
    const path = join(folder, name);
    try {
      const deadHere = (match[2] === undefined || match[2] === HOST) && !isAlive(Number(match[1]));
      if (deadHere || now - statSync(path).mtimeMs > ABANDONED_MS) {
        unlinkSync(path);
        removed.push(name);
      }
    } catch {
      // Renamed or removed meanwhile: nothing to clean.
    }
  }
  return removed;
}

function readJsonObject(file: string): Record<string, JsonValue> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, JsonValue>;
  } catch (error) {
    throw new GroupsError('INVALID_JOB', `${file} is corrupt: ${(error as Error).message}`, { cause: error, details: { file } });
  }
}

/**
 * A job's persisted JSON document. Every read goes to disk (so processes sharing the workspace
 * see each other's writes) and every write replaces the file atomically.
 *
 * @example
 * ```ts
 * job.doc.set('energy', -1.5);
 * job.doc.get('energy'); // -1.5
 * ```
 */
export class JobDocument {
  readonly #job: Job;
  #cleaned = false;

  constructor(job: Job) {
    this.#job = job;
  }

  /** Path of the document file. */
  get path(): string {
    return this.#job.fn(DOCUMENT_FILE);
  }

  /** The whole document (a fresh copy from disk; `{}` before the first write). */
  data(): Record<string, JsonValue> {
    return readJsonObject(this.path);
  }

  /** One key's value, or `undefined`. */
  get<T extends JsonValue = JsonValue>(key: string): T | undefined {
    return this.data()[key] as T | undefined;
  }

  /** True when the document has `key`. */
  has(key: string): boolean {
    return Object.hasOwn(this.data(), key);
  }

  /** Sets one key (the job is initialised first when needed). */
  set(key: string, value: JsonValue): void {
    this.update({ [key]: value });
  }

  /**
   * Sets several keys in one atomic write. The read and the write happen under the document's
   * lock, so concurrent updates from other processes (or machines sharing the file system) are
   * never lost.
   */
  update(values: Readonly<Record<string, JsonValue>>): void {
    canonicalJson(values, 'document');
    this.#locked(() => this.#write({ ...this.data(), ...values }));
  }

  /** Removes one key (under the document's lock, like {@link JobDocument.update}). */
  delete(key: string): void {
    this.#locked(() => {
      const data = this.data();
      delete data[key];
      this.#write(data);
    });
  }

  /** Replaces the whole document. */
  replace(values: Readonly<Record<string, JsonValue>>): void {
    canonicalJson(values, 'document');
    this.#locked(() => this.#write(values));
  }

  #locked(fn: () => void): void {
    this.#job.init();
    withLockSync(this.#job.fn(DOCUMENT_LOCK), `the document of job ${this.#job.id}`, () => {
      // Once per document object: a killed writer's leftovers go at the next write.
      if (!this.#cleaned) {
        removeStaleTemporaries(this.#job.path);
        this.#cleaned = true;
      }
      fn();
    });
  }

  #write(values: Readonly<Record<string, JsonValue>>): void {
    writeFileAtomic(this.path, `${JSON.stringify(values, null, 2)}\n`);
  }

  toJSON(): Record<string, JsonValue> {
    return this.data();
  }
}

/**
 * A job: a folder `<workspace>/<id>` named by the hash of its state point ({@link calcJobId}),
 * holding the state point, a {@link JobDocument} and whatever files its operations write.
 * Opening a job creates nothing; `init()` or the first document write does.
 */
export class Job {
  /** md5 of the state point's canonical JSON. */
  readonly id: string;
  /** The job's folder. */
  readonly path: string;
  /** The state point (frozen). */
  readonly statepoint: Statepoint;
  /** The persisted job document. */
  readonly doc: JobDocument;

  constructor(workspace: string, statepoint: Statepoint, id = calcJobId(statepoint)) {
    this.id = id;
    this.path = join(workspace, id);
    this.statepoint = deepFreeze(structuredClone(statepoint));
    this.doc = new JobDocument(this);
  }

  /** Short alias of {@link Job.statepoint}. */
  get sp(): Statepoint {
    return this.statepoint;
  }

  /** True once the job's folder and state point exist. */
  get exists(): boolean {
    return existsSync(join(this.path, STATEPOINT_FILE));
  }

  /** Creates the job's folder and writes its state point (atomically); idempotent. Returns the job. */
  init(): this {
    if (this.exists) return this;
    mkdirSync(this.path, { recursive: true });
    writeFileAtomic(join(this.path, STATEPOINT_FILE), `${JSON.stringify(this.statepoint, null, 2)}\n`);
    return this;
  }

  /** The path of `name` inside the job's folder. */
  fn(name: string): string {
    return join(this.path, name);
  }

  /** True when `name` is a file inside the job's folder. */
  isFile(name: string): boolean {
    try {
      return statSync(this.fn(name)).isFile();
    } catch {
      return false;
    }
  }

  toString(): string {
    return this.id;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

/** The folder of jobs of a project (`<root>/workspace`). */
export class Workspace {
  constructor(readonly path: string) {}

  /** The job of `statepoint` (not created until `job.init()` or a document write). */
  openJob(statepoint: Statepoint): Job {
    return new Job(this.path, statepoint);
  }

  /**
   * The existing job with this id, or the only one whose id starts with it.
   * Throws `NOT_FOUND` for no match and for an ambiguous prefix.
   */
  openJobById(idOrPrefix: string): Job {
    if (!/^[0-9a-f]{1,32}$/.test(idOrPrefix)) throw new GroupsError('NOT_FOUND', `"${idOrPrefix}" is not a job id`);
    const matches = this.ids().filter((id) => id.startsWith(idOrPrefix));
    if (matches.length === 0) throw new GroupsError('NOT_FOUND', `no job with id ${idOrPrefix} in ${this.path}`);
    if (matches.length > 1) {
      throw new GroupsError('NOT_FOUND', `job id prefix ${idOrPrefix} is ambiguous: ${matches.slice(0, 5).join(', ')}...`);
    }
    return this.#load(matches[0]!);
  }

  /** Every initialised job, ordered by id. */
  jobs(): Job[] {
    return this.ids().map((id) => this.#load(id));
  }

  /** The jobs whose state point contains every key of `filter` with an equal (JSON) value. */
  findJobs(filter: Statepoint = {}): Job[] {
    const wanted = Object.entries(filter).map(([key, value]) => [key, canonicalJson(value)] as const);
    return this.jobs().filter((job) =>
      wanted.every(([key, value]) => Object.hasOwn(job.statepoint, key) && canonicalJson(job.statepoint[key]) === value),
    );
  }

  ids(): string[] {
    if (!existsSync(this.path)) return [];
    return readdirSync(this.path, { withFileTypes: true })
      .filter(
        (entry) => entry.isDirectory() && /^[0-9a-f]{32}$/.test(entry.name) && existsSync(join(this.path, entry.name, STATEPOINT_FILE)),
      )
      .map((entry) => entry.name)
      .sort();
  }

  #load(id: string): Job {
    const statepoint = readJsonObject(join(this.path, id, STATEPOINT_FILE));
    const job = new Job(this.path, statepoint, id);
    if (calcJobId(statepoint) !== id) {
      throw new GroupsError('INVALID_JOB', `job ${id}: its state point hashes to ${calcJobId(statepoint)} (was it edited by hand?)`, {
        details: { job: id },
      });
    }
    return job;
  }
}
