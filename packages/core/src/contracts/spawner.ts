/**
 * The `Spawner` port: how a multi-process engine starts one task process. The default forks a
 * Node child with an IPC channel; other launchers (ssh, srun) can implement the same shape.
 */

/** What to start. */
export interface SpawnRequest {
  readonly taskId: number;
  /** `node[taskIndex]`, for process titles and messages. */
  readonly label: string;
  /** Extra environment (device visibility, ...), on top of the host's. */
  readonly env: Readonly<Record<string, string>>;
  /** True when the flow module (or vf itself) is TypeScript source and needs a loader. */
  readonly typescript: boolean;
  /**
   * The run's compiled task program (a JavaScript file holding vf's task runtime, the flow module
   * and the messenger), when the engine built one: a local spawner runs it on plain `node` instead
   * of vf's task entry, with no loader. Absent for tasks on other machines, which cannot see it.
   */
  readonly program?: string;
  /**
   * Where the tasks of a CommonJS {@link program} find, or leave, V8's code cache for it (see
   * `native/loadTaskProgram.cjs`), when the engine keeps one.
   */
  readonly programCodeCache?: string;
  /**
   * The second part of a {@link program} split in two (vf's runtime in `program`, the flow's own
   * modules here, see `runtime/taskProgram.ts`), and its code cache: a local spawner passes both to
   * the task (`VF_TASK_FLOW_PROGRAM`, `VF_TASK_FLOW_CODE_CACHE`). Absent where the program is one file.
   */
  readonly flowProgram?: string;
  readonly flowProgramCodeCache?: string;
}

/** A started task process, as the host sees it. */
export interface TaskProcess {
  readonly pid: number | undefined;
  /** Sends a control message; false when the channel is already closed. */
  send(message: unknown): boolean;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the process has exited. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts task processes. */
export interface Spawner {
  spawn(request: SpawnRequest): TaskProcess;
}

/**
 * A spawner that starts tasks on another machine (`sshLauncher`, `srunLauncher`). Placing a node on
 * one makes the whole flow use `tcp://` with CURVE (see `ProcessEngineOptions.placement`).
 */
export interface Launcher extends Spawner {
  /** The machine's address as the other tasks reach it; tasks started here bind their inbound socket on it. */
  readonly address: string;
  /** Where tasks go, for messages (e.g. `ssh 10.0.0.2`). */
  readonly description: string;
}
