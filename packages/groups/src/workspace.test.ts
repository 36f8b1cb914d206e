import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeWithTsx } from '../test/helpers.js';
import { GroupsError } from './errors.js';
import { calcJobId, canonicalJson, DOCUMENT_FILE, Job, STATEPOINT_FILE, Workspace } from './workspace.js';

describe('job ids', () => {
  it('are the md5 of Python’s json.dumps(sp, sort_keys=True), as in signac', () => {
    // Reference values printed by python3: hashlib.md5(json.dumps(sp, sort_keys=True).encode()).hexdigest()
    expect(calcJobId({ a: 1, b: 'x' })).toBe('4f5f4713d180fb0cb1041f7caf4faaaa');
    expect(calcJobId({ temperature: 300, pressure: [1, 2.5], name: 'café', nested: { z: null, y: true } })).toBe(
      '1825df098a9f811ea9862da5a131c9d6',
    );
    expect(calcJobId({})).toBe('99914b932bd37a50b983c5e7c90ae93b');
  });

  it('do not depend on key order, and differ for different state points', () => {
    expect(calcJobId({ b: [1, { y: 2, x: 1 }], a: 'q' })).toBe(calcJobId({ a: 'q', b: [1, { x: 1, y: 2 }] }));
    expect(calcJobId({ a: 1 })).not.toBe(calcJobId({ a: 2 }));
    expect(calcJobId({ a: 1 })).not.toBe(calcJobId({ a: '1' }));
  });

  it('write canonical JSON like Python', () => {
    expect(canonicalJson({ b: [1, 2], a: 'é\n' })).toBe('{"a": "\\u00e9\\n", "b": [1, 2]}');
  });

  it('reject what JSON cannot hold', () => {
    for (const bad of [{ a: undefined }, { a: Number.NaN }, { a: () => 1 }, { a: new Date(0) }, { a: [1, Infinity] }]) {
      expect(() => calcJobId(bad as never)).toThrow(GroupsError);
    }
    expect(() => calcJobId([1] as never)).toThrow(/JSON object/);
  });
});

describe('workspace and jobs', () => {
  let dir: string;
  let workspace: Workspace;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vf-groups-ws-'));
    workspace = new Workspace(join(dir, 'workspace'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens a job without creating it; init() and document writes create it', () => {
    const job = workspace.openJob({ n: 1 });
    expect(job.exists).toBe(false);
    expect(workspace.jobs()).toEqual([]);
    job.init();
    expect(job.exists).toBe(true);
    expect(JSON.parse(readFileSync(job.fn(STATEPOINT_FILE), 'utf8'))).toEqual({ n: 1 });
    const other = workspace.openJob({ n: 2 });
    other.doc.set('energy', -1.5);
    expect(other.exists).toBe(true);
    expect(workspace.jobs().map((j) => j.id)).toEqual([job.id, other.id].sort());
  });

  it('persists the document across job objects', () => {
    const job = workspace.openJob({ n: 1 });
    job.doc.update({ a: 1, b: [1, 2] });
    job.doc.set('c', { d: true });
    job.doc.delete('a');
    const again = workspace.openJob({ n: 1 });
    expect(again.doc.data()).toEqual({ b: [1, 2], c: { d: true } });
    expect(again.doc.get('b')).toEqual([1, 2]);
    expect(again.doc.has('a')).toBe(false);
    expect(() => job.doc.set('bad', Number.NaN)).toThrow(GroupsError);
    expect(again.doc.get('bad')).toBeUndefined();
  });

  it('finds jobs by id prefix and by state point filter', () => {
    const jobs = [1, 2, 3].map((n) => workspace.openJob({ n, even: n % 2 === 0 }).init());
    expect(workspace.openJobById(jobs[1]!.id).statepoint).toEqual({ n: 2, even: true });
    expect(workspace.openJobById(jobs[1]!.id.slice(0, 10)).id).toBe(jobs[1]!.id);
    expect(() => workspace.openJobById('')).toThrow(/not a job id/);
    expect(() => workspace.openJobById('0'.repeat(32))).toThrow(/no job with id/);
    expect(workspace.findJobs({ even: false }).map((job) => job.statepoint.n)).toEqual(
      jobs.filter((job) => !job.statepoint.even).map((job) => job.statepoint.n),
    );
    expect(workspace.findJobs({ n: 3, even: false })).toHaveLength(1);
  });

  it('refuses a job whose state point no longer matches its folder name', () => {
    const job = workspace.openJob({ n: 1 }).init();
    writeFileSync(job.fn(STATEPOINT_FILE), JSON.stringify({ n: 2 }));
    expect(() => workspace.jobs()).toThrow(/hashes to/);
  });

  it('reports a corrupt document clearly', () => {
    const job = workspace.openJob({ n: 1 }).init();
    writeFileSync(job.fn(DOCUMENT_FILE), '{"a": ');
    expect(() => job.doc.data()).toThrow(/is corrupt/);
  });

  it('isFile and fn', () => {
    const job = workspace.openJob({ n: 1 }).init();
    expect(job.isFile('out.txt')).toBe(false);
    writeFileSync(job.fn('out.txt'), 'x');
    expect(job.isFile('out.txt')).toBe(true);
    expect(job.isFile('.')).toBe(false);
  });

  it('never leaves a partial document when the writer is killed mid-write', { timeout: 30_000 }, async () => {
    const job = new Job(join(dir, 'workspace'), { writer: true });
    for (let round = 0; round < 3; round++) {
      const child = spawn(
        nodeWithTsx[0]!,
        [...nodeWithTsx.slice(1), new URL('../test/fixtures/docWriter.ts', import.meta.url).pathname, join(dir, 'workspace')],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the writer did not start within 15 s')), 15_000);
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 150 + round * 70));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const version = job.doc.get('version');
      expect(['small', 'large']).toContain(version);
      expect(job.doc.get<string>('payload')).toHaveLength(version === 'large' ? 2_000_000 : 1);
      // A kill between write and rename leaves a hidden temporary file, never a half-written document.
      expect(readdirSync(job.path).filter((name) => !name.startsWith('.'))).toEqual([STATEPOINT_FILE, DOCUMENT_FILE].sort());
    }
  });

  it('removes temporary files left by killed writers at the next write, and keeps a live writer’s', async () => {
    const job = new Job(join(dir, 'workspace'), { cleanup: true }).init();
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    const dead = `.aaaaaaaaaaaa.${gone.pid}.tmp`;
    const old = `.bbbbbbbbbbbb.${process.pid}@elsewhere.tmp`;
    const live = `.cccccccccccc.${process.pid}.tmp`;
    for (const name of [dead, old, live]) writeFileSync(job.fn(name), 'partial');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(job.fn(old), hourAgo, hourAgo);
    job.doc.set('x', 1);
    expect(readdirSync(job.path).filter((name) => name.endsWith('.tmp'))).toEqual([live]);
    expect(job.doc.data()).toEqual({ x: 1 });
  });
});
