import { existsSync } from 'node:fs';

/** What a multi-process engine exposes about its last run (e.g. `ProcessExecutionEngine`). */
export interface InspectableEngine {
  readonly pids: readonly (number | undefined)[];
  readonly socketDirectory: string | undefined;
  /** The run's shared-memory directory (large frames between local tasks), if it had one. */
  readonly sharedMemoryDirectory?: string | undefined;
}

/** True while process `pid` exists (signal 0 probes without touching it). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * What a finished run left behind: task processes still alive, and the socket and shared-memory
 * directories if they still exist. Empty when the engine cleaned up. Call after `flow.join()` resolved.
 */
export function findLeftovers(engine: InspectableEngine): string[] {
  const leftovers = engine.pids
    .filter((pid): pid is number => pid !== undefined && isProcessAlive(pid))
    .map((pid) => `task process ${pid}`);
  const directory = engine.socketDirectory;
  if (directory !== undefined && existsSync(directory)) leftovers.push(`socket directory ${directory}`);
  const shared = engine.sharedMemoryDirectory;
  if (shared !== undefined && existsSync(shared)) leftovers.push(`shared-memory directory ${shared}`);
  return leftovers;
}
