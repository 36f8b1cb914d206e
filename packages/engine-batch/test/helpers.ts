// Helpers shared by this package's integration tests.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Flow, FlowReport } from '@vf/core';

/** The non-empty lines of `file`, or none while it does not exist. */
export const lines = async (file: string): Promise<string[]> =>
  existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter(Boolean) : [];

/**
 * Sums a statistics file (one JSON line per task or ring, `label` starting `node#`) per node, over
 * `fields`: what the tasks of each node counted together.
 */
export async function statsByNode<Field extends string>(
  file: string,
  fields: readonly Field[],
): Promise<Record<string, Record<Field, number>>> {
  const byNode: Record<string, Record<Field, number>> = {};
  for (const line of await lines(file)) {
    const stats = JSON.parse(line) as { label: string } & Record<Field, number>;
    const node = stats.label.split('#')[0] as string;
    const sum = byNode[node] ?? (Object.fromEntries(fields.map((field) => [field, 0])) as Record<Field, number>);
    byNode[node] = sum;
    for (const field of fields) sum[field] += stats[field];
  }
  return byNode;
}

/**
 * `flow.join()`, or, once `ms` have passed, a rejection that says where the flow stands (each
 * node's items handled and backlog, from `flow.liveStats()`), the flow then asked to stop: a flow
 * that hangs in a test names the node it hangs at, and its tasks do not outlive the test.
 */
export function joinWithin(flow: Flow, ms: number): Promise<FlowReport> {
  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const nodes = flow.liveStats()?.nodes.map((node) => `${node.name} ${node.processed} handled, ${node.queued} queued`);
      flow.stop();
      reject(new Error(`join() did not resolve within ${ms} ms; nodes: ${nodes?.join('; ') ?? 'no counters'}`));
    }, ms);
    timer.unref();
  });
  return Promise.race([flow.join(), overdue]).finally(() => clearTimeout(timer));
}

/** Polls `check` every 20 ms until it holds; rejects naming `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Parameters of `flows/replicas.ts` writing into `dir`: 3 worker replicas, 2 ms of work per item. */
export const replicasParams = (dir: string, items: number) => ({
  items,
  workMs: 2,
  nbTasks: 3,
  pidFile: join(dir, 'pids'),
  outA: join(dir, 'a.txt'),
  outB: join(dir, 'b.txt'),
});

const hostScript = fileURLToPath(new URL('./fixtures/host.ts', import.meta.url));
/** Node options that run vf from its TypeScript source in a process a test spawns: the `tsx` loader and the source condition. */
export const SOURCE_NODE_ARGS: readonly string[] = [
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
  '--conditions=@vf/source',
];

/**
 * Runs `fixtures/host.ts` on a flow module in a process of its own (so that its stderr, and its
 * tasks', inherited, can be read whole); resolves with its exit code and output once it exits,
 * rejects (killing it) after 45 s.
 */
export function runFixtureHost(
  flowUrl: URL,
  params: unknown,
  dir: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...SOURCE_NODE_ARGS, hostScript, flowUrl.href, JSON.stringify(params), join(dir, 'info.json')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the host did not exit in 45 s; stderr so far:\n${stderr}`));
    }, 45_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
