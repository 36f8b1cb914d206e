import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExit } from 'signal-exit';
import type { ExecutionEngine, TaskOutcome, TaskProgress, TaskStats } from '../contracts/engine.js';
import type { Launcher, Spawner, TaskProcess } from '../contracts/spawner.js';
import { FlowValidationError, type SerializedError, serializeError, taskFailureOf, VfError } from '../errors.js';
import type { ExecutionPlan, TaskSpec } from '../plan/executionPlan.js';
import { generateCurveKeys } from '../transport/curve.js';
import { generateRunSecret } from '../transport/helloProof.js';
import { createSharedDirectory, removeLostTaskFiles, removeSharedDirectory } from '../transport/sharedFrames.js';
import { emitWarningOnce } from '../warnings.js';
import { systemClock } from './clock.js';
import { CONTROL_PROTOCOL_VERSION, type HostMessage, parseTaskMessage, type TaskInit, type Unversioned } from './controlProtocol.js';
import { type ResolvedProcessEngineOptions, resolveProcessEngineOptions } from './engineOptions.js';
import { EXTRA_CA_CERTS_ENV, trimmedExtraCaCertsEnv } from './extraCaCerts.js';
import { heartbeatPeriodMs, LivenessWatch } from './liveness.js';
import { checkPlacedNodes, type Placement, tcpBindEndpoint } from './placement.js';
import { QueueDeadlockWatch, warnQueueDeadlock } from './queueDeadlock.js';
import { writeRunOwner } from './runOwner.js';
import { sweepStaleRunsInBackground } from './staleRuns.js';
import { EMPTY_TASK_STATS } from './taskLoop.js';
import { buildTaskProgram, type TaskProgram } from './taskProgram.js';
import { deferred } from './waiting.js';

/** How long a task that reported `done` may take to exit (beyond `killGraceMs`) before it is killed. */
const DONE_EXIT_GRACE_MS = 5_000;

/** Options shared by the multi-process engines. */
export interface ProcessEngineOptions {
  /** Messages each task may hold per sender before the sender waits (batch) or drops (realtime). Default 8. */
  readonly queueSize?: number;
  /** `ipc` (default): Unix sockets in a per-flow temporary directory. `tcp` (default with `placement`): TCP sockets on `host`. */
  readonly transport?: 'ipc' | 'tcp';
  /**
   * Address local tasks bind with `tcp`. Default `127.0.0.1`. With tasks on other machines it must
   * be this machine's address as they reach it (loopback is refused).
   */
  readonly host?: string;
  /**
   * Nodes whose tasks run on other machines: node name → launcher (`sshLauncher`, `srunLauncher`).
   * Unplaced nodes run here (`spawner`). Any placement implies `tcp` and `curve`.
   */
  readonly placement?: Placement;
  /**
   * Encrypt and authenticate every data socket with ZeroMQ CURVE (a key pair per run, handed to
   * tasks over their control channel). Default: on when `placement` names any node, else off.
   */
  readonly curve?: boolean;
  /** Starts task processes. Default: fork a Node child. */
  readonly spawner?: Spawner;
  /** Longest wait for every task to open and report ready. Default 60 000 ms. */
  readonly readyTimeoutMs?: number;
  /** After a failure or stop, how long tasks get to close before they are killed. Default 2 000 ms. */
  readonly killGraceMs?: number;
  /**
   * After `stop()`, how long the flow may take to drain and close. A task still running then (a node
   * hung in `process()`, `consume()` or `close()`) fails the flow with `STOP_TIMEOUT` and is killed.
   * Default 30 000 ms.
   */
  readonly stopTimeoutMs?: number;
  /**
   * When a task of a replicated node (`nbTasks > 1`) dies, give its unfinished items to the
   * surviving replicas instead of failing the flow: nothing is lost, nothing is duplicated, order is
   * kept. Senders then keep each item until the replica's output has been taken downstream, which
   * bounds what is re-sent to `queueSize` items per replica. The flow still fails when a node throws,
   * when a one-task node dies, or when no replica of a node is left. Default false (fail fast).
   */
  readonly restartOnFailure?: boolean;
  /**
   * How long a running task may go unheard before the host takes it as unresponsive (stopped,
   * frozen, its machine or link gone, its runtime stuck in a loop), kills it, and treats it as dead:
   * the flow fails naming it (cause code `TASK_UNRESPONSIVE`), or under `restartOnFailure` a replica's
   * work goes to the others. A node busy in a long synchronous `process()` is not unresponsive: the
   * heartbeats come from a thread of their own (see `runtime/liveness.ts`). Default 10 000 ms; at
   * least 100.
   */
  readonly livenessTimeoutMs?: number;
  /**
   * Large binary payloads (typed arrays, Buffers, DataViews, ArrayBuffers and long strings of at
   * least 64 KiB, `SHARED_FRAME_MIN_BYTES`) between tasks on this host travel through shared memory
   * (files on `/dev/shm`, in a 0700 directory per run) with only a reference on ZeroMQ. Links over
   * `tcp` always carry them inline. Default true; false sends everything inline.
   */
  readonly sharedMemory?: boolean;
}

/** The module and export name of an engine's messenger class, imported by every task process. */
export interface MessengerModule {
  readonly moduleUrl: string;
  readonly exportName: string;
}

interface LiveTask {
  readonly spec: TaskSpec;
  readonly process: TaskProcess;
  ready: boolean;
  exited: boolean;
  /** Died while the flow went on without it (`restartOnFailure`). */
  lost: boolean;
  outcome: TaskOutcome | undefined;
  /** Latest counters the task reported (live monitoring). */
  stats: TaskStats | undefined;
  error: SerializedError | undefined;
  /**
   * The host found this task at fault itself (a control message it could not take): its error is
   * the flow's failure even if the task then reports that it was aborted.
   */
  faulted: boolean;
  readonly exit: Promise<void>;
}

/**
 * Base of the multi-process engines: one OS process per task, control over the IPC channel (checked,
 * versioned), data over ZeroMQ. The subclass names its messenger (the queue policy); everything else,
 * the ready handshake, stop, fail-fast, kill and clean-up, is here once.
 */
export abstract class ProcessExecutionEngine implements ExecutionEngine {
  protected readonly options: ResolvedProcessEngineOptions;
  #tasks: LiveTask[] = [];
  /** Set by the first {@link allocateAndRunTasks}: one engine object runs one flow. */
  #claimed = false;
  #runDir: string | undefined;
  /** Environment for the tasks this host starts itself, on top of their own (see {@link trimmedExtraCaCertsEnv}). */
  #localTaskEnv: Readonly<Record<string, string>> = {};
  #sharedDir: string | undefined;
  #endpointTable: readonly string[] | undefined;
  #failed = false;
  #killTimer: NodeJS.Timeout | undefined;
  #stopTimer: NodeJS.Timeout | undefined;
  #livenessTimer: NodeJS.Timeout | undefined;
  #deadlocks: QueueDeadlockWatch<LiveTask> | undefined;
  #finished: Promise<readonly TaskOutcome[]> | undefined;
  /**
   * Resolved once this run's tasks are all spawned (or its start gave up before): a join waits for
   * it, for a join called while the start is still under way would otherwise find no task to wait
   * for and remove the run's files under the tasks about to start.
   */
  readonly #spawned = deferred();
  /**
   * Removes the run's files (socket directory, task program, shared memory): at join, or as the host
   * exits if that comes first (`process.exit` from a second Ctrl-C, say), for tasks that had already
   * ended leave their socket files to the host and an orphan only removes its own. Registered for
   * the exit while a run lasts ({@link removeAtExit}).
   */
  readonly #removeRunFiles = (): void => {
    try {
      if (this.#runDir !== undefined) rmSync(this.#runDir, { recursive: true, force: true });
    } catch {
      // Orphaned tasks remove their files at the same moment (ENOTEMPTY): never fail an exit on it.
    }
    removeSharedDirectory(this.#sharedDir);
  };

  constructor(options: ProcessEngineOptions = {}) {
    this.options = resolveProcessEngineOptions(new.target.name, options);
  }

  /** The messenger class every task of this engine uses (its queue policy). */
  protected abstract readonly messengerModule: MessengerModule;

  async allocateAndRunTasks(plan: ExecutionPlan): Promise<void> {
    // Claimed before the first await: two flows started on one engine in the same turn must not
    // both pass (they hung, sharing one run directory, and leaked it).
    if (this.#claimed) {
      throw new FlowValidationError(
        'INVALID_STATE',
        `this ${this.constructor.name} has already been given a flow: one engine object runs one flow, create a new one for each run`,
      );
    }
    this.#claimed = true;
    removeAtExit(this.#removeRunFiles);
    try {
      await this.#start(plan).finally(() => this.#spawned.resolve());
      // What hosts killed by SIGKILL left (nothing could remove it): once per process, in the
      // background, now that this run is up rather than on its way there.
      sweepStaleRunsInBackground();
    } catch (error) {
      // Failed before any task started: nothing will join, so the run's files go now.
      if (this.#tasks.length === 0) {
        this.#removeRunFiles();
        forgetAtExit(this.#removeRunFiles);
      }
      throw error;
    }
  }

  async #start(plan: ExecutionPlan): Promise<void> {
    const source = plan.source;
    if (source === undefined) {
      throw new FlowValidationError(
        'INVALID_FLOW_MODULE',
        `${this.constructor.name} runs each task in its own process, which rebuilds the flow from its module: create the flow with Flow.load(moduleUrl, params) from a module whose default export is defineFlow(...)`,
      );
    }
    checkPlacedNodes(this.constructor.name, this.options.placement, plan);
    const endpoints = this.#endpoints(plan);
    const program = await this.#taskProgram(plan, [source.moduleUrl, this.messengerModule.moduleUrl]);
    if (this.#runDir !== undefined) this.#localTaskEnv = await trimmedExtraCaCertsEnv(this.#runDir);
    const curve = this.options.curve ? generateCurveKeys() : undefined;
    const runSecret = generateRunSecret();
    // Only with ipc: every task is on this host. Undefined where there is no tmpfs (frames go inline).
    this.#sharedDir = this.options.sharedMemory && this.options.transport === 'ipc' ? createSharedDirectory() : undefined;
    const sharedMemory = this.#sharedDir === undefined ? undefined : { directory: this.#sharedDir };
    const actualEndpoints: Array<string | undefined> = plan.tasks.map(() => undefined);
    let boundCount = 0;
    const typescript = /\.[mc]?tsx?$/.test(new URL(source.moduleUrl).pathname) || import.meta.url.endsWith('.ts');
    let readyCount = 0;
    const ready = deferred();
    const liveness = new LivenessWatch<LiveTask>(this.options.livenessTimeoutMs, systemClock);
    this.#livenessTimer = setInterval(() => {
      for (const { key, reason } of liveness.check()) this.#unresponsive(key, reason);
    }, heartbeatPeriodMs(this.options.livenessTimeoutMs));
    this.#livenessTimer.unref();
    this.#deadlocks = this.#watchForDeadlocks();
    const deadlocks = this.#deadlocks;

    for (const spec of plan.tasks) {
      // Once a task could not be started, the rest never will be: the run is failing.
      if (this.#failed) {
        this.#tasks.push(notStarted(spec));
        continue;
      }
      const child = this.#spawn(spec, typescript, program);
      if (child === undefined) continue;
      const exit = deferred();
      const task: LiveTask = {
        spec,
        process: child,
        ready: false,
        exited: false,
        lost: false,
        outcome: undefined,
        stats: undefined,
        error: undefined,
        faulted: false,
        exit: exit.promise,
      };
      this.#tasks.push(task);
      child.onMessage((raw) => {
        let message: ReturnType<typeof parseTaskMessage>;
        try {
          message = parseTaskMessage(raw);
        } catch (error) {
          if (task.error === undefined) {
            task.error = serializeError(error);
            task.faulted = true;
          }
          this.#fail();
          return;
        }
        const stuck = liveness.heard(task, message.type === 'heartbeat' ? message : undefined);
        if (stuck !== undefined) this.#unresponsive(task, stuck);
        switch (message.type) {
          case 'bound':
            if (actualEndpoints[spec.id] === undefined) {
              actualEndpoints[spec.id] = message.endpoint ?? (endpoints[spec.id] as string);
              boundCount += 1;
              // Every task knows where the others listen only once all have bound: then they connect.
              if (boundCount === plan.tasks.length) {
                const table = actualEndpoints as string[];
                this.#endpointTable = table;
                for (const other of this.#tasks) this.#send(other, { type: 'endpoints', endpoints: table });
              }
            }
            break;
          case 'ready':
            if (!task.ready) {
              task.ready = true;
              readyCount += 1;
              if (readyCount === plan.tasks.length) ready.resolve();
            }
            break;
          case 'hello':
          case 'started':
          case 'heartbeat':
            break;
          case 'stats':
            task.stats = message.stats;
            if (message.queues !== undefined) deadlocks.reported(task, message.queues);
            break;
          case 'queues':
            deadlocks.probed(task, message.queues);
            break;
          case 'warning':
            emitWarningOnce(message.warning.message, { type: message.warning.name, code: message.warning.code });
            break;
          case 'error':
            task.error ??= message.error;
            this.#fail();
            break;
          case 'done':
            liveness.forget(task);
            task.outcome = message.outcome;
            deadlocks.left(task);
            task.stats = message.outcome.stats;
            if (message.outcome.status === 'failed') this.#fail();
            else this.#announceDone(task, plan);
            // A task that reported done has nothing left to do: if it does not exit (a handle some
            // node left open), end it rather than wait forever.
            setTimeout(() => {
              if (!task.exited) task.process.kill('SIGKILL');
            }, this.options.killGraceMs + DONE_EXIT_GRACE_MS).unref();
            break;
        }
      });
      child.onExit((code, signal) => {
        task.exited = true;
        liveness.forget(task);
        deadlocks.left(task);
        if (task.outcome === undefined) {
          // Killed because the flow had already failed: the failure is the other task's, not this one's.
          if (this.#failed) task.error ??= { name: 'AbortedError', code: 'ABORTED', message: 'ended after the flow failed' };
          task.error ??= {
            name: 'TaskExitedError',
            message: `task process ${spec.nodeName}[${spec.taskIndex}] (pid ${String(child.pid)}) exited ${signal === null ? `with code ${String(code)}` : `on signal ${signal}`} before finishing`,
          };
          if (this.#canGoOnWithout(task)) this.#announceLost(task, plan);
          else this.#fail();
        }
        exit.resolve();
        ready.resolve(); // never leave run() waiting on a dead task
      });
      const init: TaskInit = {
        task: spec,
        nodes: plan.nodes,
        tasks: plan.tasks,
        source,
        transport: { kind: this.options.transport, endpoints, runSecret, ...(curve === undefined ? {} : { curve }) },
        queueSize: this.options.queueSize,
        restartOnFailure: this.options.restartOnFailure,
        ...(sharedMemory === undefined ? {} : { sharedMemory }),
        messenger: this.messengerModule,
        heartbeatMs: heartbeatPeriodMs(this.options.livenessTimeoutMs),
      };
      this.#send(task, { type: 'init', init });
    }
    this.#spawned.resolve();

    if (this.#failed) ready.resolve();
    const timeout = setTimeout(() => {
      for (const task of this.#tasks) {
        if (!task.ready)
          task.error ??= {
            name: 'TaskTimeoutError',
            message: `task ${task.spec.nodeName}[${task.spec.taskIndex}] was not ready after ${this.options.readyTimeoutMs} ms`,
          };
      }
      this.#fail();
      ready.resolve();
    }, this.options.readyTimeoutMs);
    await ready.promise;
    clearTimeout(timeout);
    if (this.#failed) {
      // Nothing of a flow that failed to start outlives run(): every task has ended, the run directory is gone.
      const outcomes = await this.joinTaskProcesses();
      throw taskFailureOf(outcomes) ?? new VfError('START_FAILED', `${this.constructor.name}: the flow failed before it started`);
    }
    for (const task of this.#tasks) this.#send(task, { type: 'start' });
  }

  /**
   * Starts the process of one task; on failure (the spawner or launcher throws, or returns no task
   * process) records it as the run's failure and returns undefined.
   */
  #spawn(spec: TaskSpec, typescript: boolean, program: TaskProgram | undefined): TaskProcess | undefined {
    const launcher = this.options.placement[spec.nodeName];
    const spawner: Spawner | Launcher = launcher ?? this.options.spawner;
    const label = `${spec.nodeName}[${spec.taskIndex}]`;
    try {
      // Another machine cannot see the program in this one's run directory.
      const request = {
        taskId: spec.id,
        label,
        env: launcher === undefined && !(EXTRA_CA_CERTS_ENV in spec.env) ? { ...this.#localTaskEnv, ...spec.env } : spec.env,
        typescript,
        ...(launcher === undefined && program !== undefined
          ? {
              program: program.path,
              ...(program.codeCache === undefined ? {} : { programCodeCache: program.codeCache }),
              ...(program.flow === undefined ? {} : { flowProgram: program.flow.path }),
              ...(program.flow?.codeCache === undefined ? {} : { flowProgramCodeCache: program.flow.codeCache }),
            }
          : {}),
      };
      const child = spawner.spawn(request);
      if (!isTaskProcess(child)) {
        throw new TypeError(`spawn() returned ${String(child)}, not a TaskProcess (pid, send, onMessage, onExit, kill)`);
      }
      return child;
    } catch (error) {
      const where = 'description' in spawner ? ` with ${String(spawner.description)}` : '';
      const failure = new VfError('SPAWN_FAILED', `could not start task ${label}${where}: ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
        details: { node: spec.nodeName, taskIndex: spec.taskIndex },
      });
      this.#tasks.push(notStarted(spec, serializeError(failure)));
      this.#fail();
      return undefined;
    }
  }

  /** Process ids of this run's tasks, in task order (for monitoring and tests). */
  get pids(): readonly (number | undefined)[] {
    return this.#tasks.map((task) => task.process.pid);
  }

  /** Where each task of this run listens, by task id, once all have bound (diagnostics and tests). */
  get endpoints(): readonly string[] | undefined {
    return this.#endpointTable;
  }

  /** This run's shared-memory directory (large frames between local tasks); removed when the run ends. */
  get sharedMemoryDirectory(): string | undefined {
    return this.#sharedDir;
  }

  /** Directory holding this run's `ipc://` socket files and compiled task program; removed when the run ends. */
  get socketDirectory(): string | undefined {
    return this.#runDir;
  }

  taskProgress(): readonly TaskProgress[] {
    return this.#tasks.map(({ spec, stats }) => ({
      taskId: spec.id,
      nodeName: spec.nodeName,
      taskIndex: spec.taskIndex,
      device: spec.device,
      stats: stats ?? EMPTY_TASK_STATS,
    }));
  }

  signalFlowTermination(): void {
    for (const task of this.#tasks) this.#send(task, { type: 'stop' });
    if (this.#stopTimer !== undefined || this.#tasks.length === 0) return;
    // A stop must end the flow even when a node never returns: fail what is still running, then kill it.
    this.#stopTimer = setTimeout(() => {
      const stuck = this.#tasks.filter((task) => !task.exited && task.outcome === undefined);
      if (stuck.length === 0) return;
      for (const task of stuck) {
        task.error ??= {
          name: 'StopTimeoutError',
          code: 'STOP_TIMEOUT',
          message: `task ${task.spec.nodeName}[${task.spec.taskIndex}] was still running ${this.options.stopTimeoutMs} ms after stop(): a node hangs in process(), consume() or close(); it was killed`,
        };
      }
      this.#fail();
    }, this.options.stopTimeoutMs);
    this.#stopTimer.unref();
  }

  joinTaskProcesses(): Promise<readonly TaskOutcome[]> {
    // Before any run there is nothing to wait for, and nothing to remember: the run may come later.
    if (!this.#claimed) return Promise.resolve([]);
    this.#finished ??= this.#join();
    return this.#finished;
  }

  async #join(): Promise<readonly TaskOutcome[]> {
    await this.#spawned.promise;
    await Promise.all(this.#tasks.map((task) => task.exit));
    clearTimeout(this.#killTimer);
    clearTimeout(this.#stopTimer);
    clearInterval(this.#livenessTimer);
    this.#deadlocks?.close();
    this.#removeRunFiles();
    forgetAtExit(this.#removeRunFiles);
    return this.#tasks.map((task) => (task.lost && !this.#failed ? lostOutcome(task) : outcomeOf(task, this.#failed)));
  }

  /**
   * The run's watch for deadlocks of bounded queues (`queueDeadlock.ts`): it probes the tasks when
   * every one has waited, still, over a stats period, and lets one past its room when they all still
   * wait and none moved.
   */
  #watchForDeadlocks(): QueueDeadlockWatch<LiveTask> {
    const live = (task: LiveTask) => task.ready && !task.exited && !task.lost && task.outcome === undefined;
    return new QueueDeadlockWatch<LiveTask>({
      live: () => (this.#failed ? [] : this.#tasks.filter(live)),
      taskId: (task) => task.spec.id,
      probe: (task) => this.#send(task, { type: 'probe' }),
      lend: (task, wait) => {
        this.#send(task, { type: 'lend' });
        warnQueueDeadlock(`${task.spec.nodeName} -> ${wait.child ?? '?'}`);
      },
      stuck: () =>
        emitWarningOnce('every task of the flow waits for input and none for room: nothing can wake them but stop()', {
          code: 'VF_FLOW_STUCK',
        }),
    });
  }

  /**
   * Tells the parent tasks of a finished task that it needs nothing more. Their wait for its end
   * acknowledgement then ends even if the acknowledgement was lost with the closing socket.
   */
  #announceDone(finished: LiveTask, plan: ExecutionPlan): void {
    const parents = plan.nodes[finished.spec.nodeIndex]?.parents ?? [];
    for (const task of this.#tasks) {
      if (parents.includes(task.spec.nodeIndex)) this.#send(task, { type: 'peerDone', taskId: finished.spec.id });
    }
  }

  /**
   * Whether the flow can recover from the death of `task` (`restartOnFailure`): it is a replica that
   * died after the start, while the flow is healthy, and another replica of its node is still running.
   */
  #canGoOnWithout(task: LiveTask): boolean {
    if (!this.options.restartOnFailure || this.#failed || task.spec.nbTasks < 2 || !task.ready) return false;
    return this.#tasks.some(
      (other) => other !== task && other.spec.nodeIndex === task.spec.nodeIndex && !other.exited && !other.lost && other.ready,
    );
  }

  /**
   * Tells the lost task's parents (they re-send what it had not finished to the other replicas) and
   * children (they stop waiting for its end) that the flow goes on without it.
   */
  #announceLost(lost: LiveTask, plan: ExecutionPlan): void {
    lost.lost = true;
    // Its pool of shared-memory segments, its bell and its rings would otherwise stay until the run ends.
    removeLostTaskFiles(this.#sharedDir, lost.spec.id);
    const node = plan.nodes[lost.spec.nodeIndex];
    const neighbours = [...(node?.parents ?? []), ...(node?.children ?? [])];
    for (const task of this.#tasks) {
      if (neighbours.includes(task.spec.nodeIndex)) this.#send(task, { type: 'peerLost', taskId: lost.spec.id });
    }
  }

  /**
   * A task stopped answering (`livenessTimeoutMs`): it can handle no message, so it is killed at
   * once; its exit then fails the flow or, for a replica under `restartOnFailure`, re-dispatches its work.
   */
  #unresponsive(task: LiveTask, reason: string): void {
    // Once the flow fails, every task is aborted and then killed anyway.
    if (task.exited || task.outcome !== undefined || this.#failed) return;
    task.error ??= {
      name: 'TaskUnresponsiveError',
      code: 'TASK_UNRESPONSIVE',
      message: `task ${task.spec.nodeName}[${task.spec.taskIndex}] (pid ${String(task.process.pid)}) is unresponsive: ${reason} (stopped, frozen, or its machine is unreachable), more than livenessTimeoutMs (${this.options.livenessTimeoutMs} ms); it was killed. A node computing for long is not unresponsive; raise livenessTimeoutMs for slow links`,
    };
    task.process.kill('SIGKILL');
  }

  /** Fail fast: ask every task to abort, and kill whatever is still alive after the grace period. */
  #fail(): void {
    if (this.#failed) return;
    this.#failed = true;
    for (const task of this.#tasks) this.#send(task, { type: 'abort', reason: 'another task of the flow failed' });
    this.#killTimer = setTimeout(() => {
      for (const task of this.#tasks) if (!task.exited) task.process.kill('SIGKILL');
    }, this.options.killGraceMs);
    this.#killTimer.unref();
  }

  #send(task: LiveTask, message: Unversioned<HostMessage>): void {
    if (!task.exited) task.process.send({ v: CONTROL_PROTOCOL_VERSION, ...message });
  }

  /**
   * Compiles the run's task program once, here, so that local tasks start without compiling anything
   * (`runtime/taskProgram.ts`); undefined when every task runs on another machine or it cannot be built.
   */
  async #taskProgram(plan: ExecutionPlan, moduleUrls: readonly string[]): Promise<TaskProgram | undefined> {
    if (plan.tasks.every((spec) => this.options.placement[spec.nodeName] !== undefined)) return undefined;
    this.#runDir ??= createRunDirectory();
    return buildTaskProgram(this.#runDir, moduleUrls);
  }

  #endpoints(plan: ExecutionPlan): string[] {
    if (this.options.transport === 'tcp') {
      // Each task's machine picks the port when it binds (no probe-then-bind race; a remote port cannot be probed from here).
      return plan.tasks.map((spec) => tcpBindEndpoint(spec, this.options.placement, this.options.host));
    }
    // Unix socket paths are limited to ~107 bytes: keep the directory name short.
    this.#runDir = createRunDirectory();
    return plan.tasks.map((task) => `ipc://${join(this.#runDir as string, `t${task.id}`)}`);
  }
}

/**
 * Makes a run directory (mode 0700, a name nobody can have prepared) with its owner file: a host
 * killed by SIGKILL before anything removes it leaves it to a later host's sweep (`staleRuns.ts`).
 */
function createRunDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'vf-'));
  writeRunOwner(directory);
  return directory;
}

/** What to remove if this process exits before a run's join: one exit hook for every run in progress. */
const removalsAtExit = new Set<() => void>();
/** Takes the exit hook back; set while a run is in progress. */
let forgetExitHook: (() => void) | undefined;

function removeEverythingAtExit(): void {
  for (const remove of removalsAtExit) remove();
}

/**
 * Runs `remove` if the process exits before {@link forgetAtExit} takes it back: `process.exit`, the
 * end of the event loop, an uncaught error, or a signal that would end it (SIGTERM, SIGHUP, a second
 * Ctrl-C; `signal-exit`, which leaves a signal this process handles itself alone). Node emits no
 * `exit` for a fatal signal, and before any task has its init (the program compiling, tasks
 * starting) no orphan would remove the run's directories either.
 */
function removeAtExit(remove: () => void): void {
  forgetExitHook ??= onExit(removeEverythingAtExit);
  removalsAtExit.add(remove);
}

/** Takes back a `remove` given to {@link removeAtExit}: its run was joined (or never started), its files are gone. */
function forgetAtExit(remove: () => void): void {
  removalsAtExit.delete(remove);
  if (removalsAtExit.size > 0) return;
  forgetExitHook?.();
  forgetExitHook = undefined;
}

/** A stand-in for the process of a task that was never started. */
const NO_PROCESS: TaskProcess = {
  pid: undefined,
  send: () => false,
  onMessage: () => undefined,
  onExit: () => undefined,
  kill: () => undefined,
};

/** A task whose process was never started: `error` when starting it failed, else the run failed first. */
function notStarted(spec: TaskSpec, error?: SerializedError): LiveTask {
  return {
    spec,
    process: NO_PROCESS,
    ready: false,
    exited: true,
    lost: false,
    outcome: undefined,
    stats: undefined,
    error,
    faulted: false,
    exit: Promise.resolve(),
  };
}

function isTaskProcess(value: unknown): value is TaskProcess {
  const candidate = value as Partial<TaskProcess> | null | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.send === 'function' &&
    typeof candidate.onMessage === 'function' &&
    typeof candidate.onExit === 'function' &&
    typeof candidate.kill === 'function'
  );
}

/** A replica that died while the flow went on: its last reported counters, and why it ended. */
function lostOutcome(task: LiveTask): TaskOutcome {
  return {
    taskId: task.spec.id,
    nodeName: task.spec.nodeName,
    taskIndex: task.spec.taskIndex,
    device: task.spec.device,
    status: 'lost',
    stats: task.stats ?? EMPTY_TASK_STATS,
    ...(task.error === undefined ? {} : { error: task.error }),
  };
}

function outcomeOf(task: LiveTask, flowFailed: boolean): TaskOutcome {
  // A task that died before `done` keeps the last counters it reported: its work did happen.
  const base = task.outcome ?? {
    taskId: task.spec.id,
    nodeName: task.spec.nodeName,
    taskIndex: task.spec.taskIndex,
    device: task.spec.device,
    status: 'aborted' as const,
    stats: task.stats ?? EMPTY_TASK_STATS,
  };
  if (task.error !== undefined && (base.status !== 'failed' || base.error === undefined)) {
    // A task that reported an error, or died, is the failure; one that was merely aborted is not.
    const aborted = !task.faulted && (task.error.code === 'ABORTED' || (flowFailed && task.outcome?.status === 'aborted'));
    if (!aborted) return { ...base, status: 'failed', error: task.error };
  }
  return base;
}
