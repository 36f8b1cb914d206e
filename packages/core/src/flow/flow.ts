import { pathToFileURL } from 'node:url';
import type { DeviceAllocator } from '../contracts/deviceAllocator.js';
import type { ExecutionEngine, TaskOutcome } from '../contracts/engine.js';
import { FlowValidationError, isVfError, taskFailureOf } from '../errors.js';
import { type FlowGraph, validateGraph } from '../graph/validateGraph.js';
import { configureLogging, getLogger, isLogLevelEnabled, type LoggingOptions, newRunId, taskLoggingEnv } from '../logging.js';
import type { ConsumerNode } from '../nodes/consumerNode.js';
import type { FlowMembership, Node } from '../nodes/node.js';
import type { ProducerNode } from '../nodes/producerNode.js';
import { buildExecutionPlan, type ExecutionPlan, type FlowSource } from '../plan/executionPlan.js';
import { checkRunArguments } from './checkRunArguments.js';
import { chooseAllocator, warnGpuTasksOnCpu } from './defaultAllocator.js';
import { findNonJson, isFlowDefinition } from './defineFlow.js';
import { calledFromModule, importFlowModule } from './importFlowModule.js';
import { buildLiveStats, type LiveStats } from './liveStats.js';
import { checkMetricsOptions, type MetricsEndpoint, type MetricsOptions, startMetricsServer } from './metricsServer.js';
import { buildReport, type FlowReport } from './report.js';

/** Options of {@link Flow.run}. */
export interface RunOptions {
  /**
   * Places tasks on devices. Default: when a node asks for a GPU, the GPU allocator `@vf/gpu`
   * registers when it is imported (else the CPU, with a `VF_GPU_ON_CPU` warning naming the nodes);
   * otherwise everything on the CPU.
   */
  readonly deviceAllocator?: DeviceAllocator;
  /** Treat SIGINT in this process as `flow.stop()` while the flow runs. Default true. */
  readonly handleSigint?: boolean;
  /**
   * The framework's log level and format, for this process and the run's task processes
   * (`configureLogging(log)`). Default: `VF_LOG_LEVEL` / `VF_LOG_FORMAT`, else `info`, `pretty`.
   */
  readonly log?: LoggingOptions;
  /**
   * Serve Prometheus metrics (`/metrics`), `/healthz` and `/readyz` over HTTP while the flow runs,
   * on `port` (0: any free port) of `host` (default 127.0.0.1); `flow.metricsUrl` says where.
   * The endpoint never keeps the process alive; `flow.closeMetrics()` closes it. Default: none.
   */
  readonly metrics?: MetricsOptions;
}

type FlowState = 'ready' | 'starting' | 'running' | 'finished';

/**
 * A validated graph of producers, processors and consumers, and one run of it.
 *
 * @example
 * ```ts
 * const numbers = new IntProducer(0, 9);
 * const doubled = new Doubler().from(numbers);
 * const sink = new CommandlineConsumer().from(doubled);
 * const flow = new Flow([numbers], [sink]);
 * await flow.run(new InProcessEngine());
 * console.log(String(await flow.join()));
 * ```
 */
export class Flow {
  /** The graph, with every node in deterministic topological order. */
  readonly graph: FlowGraph;
  #source: FlowSource | undefined;
  #state: FlowState = 'ready';
  #engine: ExecutionEngine | undefined;
  #plan: ExecutionPlan | undefined;
  #startedAt = 0;
  #runId: string | undefined;
  #metrics: MetricsEndpoint | undefined;
  #lostTasks = 0;
  #stopRequested = false;
  #joined: Promise<FlowReport> | undefined;
  /** While `run()` starts the flow: settles with it (with what it threw, if it threw). */
  #starting: Promise<unknown> | undefined;
  #sigintCount = 0;
  readonly #onSigint = () => {
    this.#sigintCount += 1;
    if (this.#sigintCount === 1) {
      this.stop();
      return;
    }
    // A second Ctrl-C means "now": give the signal back its default behaviour.
    this.#releaseSigint();
    process.kill(process.pid, 'SIGINT');
  };

  /** Validates the graph; throws {@link FlowValidationError} naming the offending nodes. */
  constructor(producers: readonly ProducerNode[], consumers: readonly ConsumerNode[]) {
    this.graph = validateGraph(producers, consumers);
    // The nodes are this flow's until it finishes: another flow taking them would change its graph.
    const finished = () => this.#state === 'finished';
    const membership: FlowMembership = {
      get active() {
        return !finished();
      },
    };
    for (const node of this.graph.nodes) node.joinFlow(membership);
  }

  /**
   * Imports a flow module (default export made by `defineFlow`) and builds its flow with `params`.
   * Multi-process engines need flows made this way: every task process rebuilds the flow likewise.
   */
  static async load<TParams = unknown>(moduleUrl: string | URL, params?: TParams): Promise<Flow> {
    const url = toModuleUrl(moduleUrl);
    // Before any await: the stack shows whether the module itself is the caller.
    const selfLoad = calledFromModule(url);
    const nonJson = findNonJson(params ?? null);
    if (nonJson !== undefined) {
      throw new FlowValidationError('INVALID_OPTION', `flow params must be JSON-serialisable: ${nonJson.path} ${nonJson.problem}`, {
        details: { path: nonJson.path },
      });
    }
    let module: { default?: unknown };
    try {
      module = await importFlowModule(url, selfLoad);
    } catch (error) {
      if (isVfError(error) && error.code === 'INVALID_FLOW_MODULE') throw error;
      throw new FlowValidationError('INVALID_FLOW_MODULE', `cannot import flow module ${url}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!isFlowDefinition(module.default)) {
      throw new FlowValidationError('INVALID_FLOW_MODULE', `flow module ${url} must export default defineFlow((params) => new Flow(...))`);
    }
    const flow = await module.default.create(params ?? (null as TParams));
    if (!(flow instanceof Flow)) {
      if (isFlowOfAnotherCopy(flow)) {
        throw new FlowValidationError(
          'INVALID_FLOW_MODULE',
          `flow module ${url} built its Flow with another copy of @vf/core than the one loading it: it ran as CommonJS (under tsx, a .ts file is CommonJS in a package without "type": "module"), which gets a copy of its own. Make it an ES module: set "type": "module" in its package.json, or name it .mts`,
        );
      }
      throw new FlowValidationError('INVALID_FLOW_MODULE', `the factory of flow module ${url} did not return a Flow`);
    }
    flow.#source = { moduleUrl: url, params: params ?? null };
    return flow;
  }

  /** Where task processes rebuild this flow; undefined for a flow built in place with `new Flow`. */
  get source(): FlowSource | undefined {
    return this.#source;
  }

  /** Every node, parents before children. */
  get nodes(): readonly Node[] {
    return this.graph.nodes;
  }

  /**
   * Allocates devices and starts every task. Resolves once all tasks are running; rejects with
   * `AllocationError` / `FlowValidationError` before anything starts when that is impossible.
   */
  async run(engine: ExecutionEngine, options: RunOptions = {}): Promise<void> {
    checkRunArguments(engine, options);
    if (options.metrics !== undefined) checkMetricsOptions(options.metrics);
    if (this.#state !== 'ready') {
      throw new FlowValidationError('INVALID_STATE', 'this flow has already been run; build a new one (Flow.load) for another run');
    }
    this.#state = 'starting';
    const starting = this.#start(engine, options);
    // A join() called meanwhile waits for the start to settle (it has no engine to join yet).
    this.#starting = starting.then(
      () => undefined,
      (error: unknown) => error,
    );
    try {
      await starting;
    } finally {
      this.#starting = undefined;
    }
  }

  async #start(engine: ExecutionEngine, options: RunOptions): Promise<void> {
    try {
      if (options.log !== undefined) configureLogging(options.log);
      const runId = newRunId();
      const choice = chooseAllocator(this.graph.nodes, options.deviceAllocator);
      this.#plan = withTaskLogging(await buildExecutionPlan(this.graph, choice.allocator, this.#source), runId);
      this.#runId = runId;
      warnGpuTasksOnCpu(this.#plan, choice);
    } catch (error) {
      this.#state = 'ready';
      throw error;
    }
    if (options.metrics !== undefined) {
      try {
        this.#metrics = await startMetricsServer(options.metrics, this.#metricsSource());
      } catch (error) {
        this.#state = 'ready';
        throw error;
      }
    }
    this.#engine = engine;
    this.#startedAt = performance.now();
    if (options.handleSigint !== false) process.on('SIGINT', this.#onSigint);
    try {
      await engine.allocateAndRunTasks(this.#plan);
    } catch (error) {
      this.#releaseSigint();
      await this.closeMetrics();
      if (isVfError(error) && error.code === 'INVALID_STATE') {
        // The engine refused the flow before starting anything (it runs another one): nothing of
        // this flow ran, so join() must not report that other flow's run, and this one may run on
        // another engine.
        this.#engine = undefined;
        this.#state = 'ready';
      } else {
        this.#state = 'finished';
      }
      throw error;
    }
    this.#state = 'running';
    if (isLogLevelEnabled('debug')) getLogger().debug({ run: this.#runId, tasks: this.#plan.tasks.length }, 'flow running');
    if (this.#stopRequested) engine.signalFlowTermination();
  }

  /** Where the metrics endpoint listens (`http://127.0.0.1:PORT`), when `run()` was given `metrics`. */
  get metricsUrl(): string | undefined {
    return this.#metrics?.url;
  }

  /** Closes the metrics endpoint, if any. It would not keep the process alive anyway. */
  async closeMetrics(): Promise<void> {
    const metrics = this.#metrics;
    this.#metrics = undefined;
    await metrics?.close();
  }

  #metricsSource() {
    return {
      taskProgress: () => this.#engine?.taskProgress?.() ?? [],
      liveStats: () => this.liveStats(),
      phase: () =>
        (this.#state === 'running' ? 'running' : this.#state === 'finished' ? 'finished' : 'starting') as
          | 'starting'
          | 'running'
          | 'finished',
      lostTasks: () => this.#lostTasks,
    };
  }

  /** This run's id, on every log line of its task processes (`run`); undefined before `run()`. */
  get runId(): string | undefined {
    return this.#runId;
  }

  /**
   * Resolves with the report once every task has exited. Never rejects for a task failure. May be
   * called while `run()` is still starting the flow: it then waits for the start first.
   */
  join(): Promise<FlowReport> {
    const starting = this.#starting;
    if (starting !== undefined) return starting.then((failure) => this.#joinStarted(failure));
    return this.#joinStarted(undefined);
  }

  /** {@link join} once no start is in flight; `failure`: what the `run()` it waited for threw, if it did. */
  #joinStarted(failure: unknown): Promise<FlowReport> {
    if (this.#engine === undefined || this.#plan === undefined) {
      const error =
        failure === undefined
          ? new FlowValidationError('INVALID_STATE', 'flow.join() called before flow.run()')
          : new FlowValidationError(
              'INVALID_STATE',
              `flow.join(): flow.run() failed before the flow started, so there is no run to join (${failure instanceof Error ? failure.message : String(failure)})`,
              { cause: failure },
            );
      return Promise.reject(error);
    }
    this.#joined ??= this.#collect(this.#engine, this.#plan);
    return this.#joined;
  }

  /**
   * The running flow's counters so far, per node (received, emitted, dropped, processed, backlog,
   * fps), as of the tasks' latest reports: they report every 250 ms, and once more when they
   * finish. Poll it for a progress bar or a live view. Undefined before `run()`, or when the engine
   * does not implement the optional `taskProgress()`; every engine of vf does.
   *
   * @example
   * ```ts
   * await flow.run(engine);
   * const timer = setInterval(() => console.log(flow.liveStats()?.nodes.map((n) => `${n.name} ${n.processed}`)), 500);
   * const report = await flow.join();
   * clearInterval(timer);
   * ```
   */
  liveStats(): LiveStats | undefined {
    const progress = this.#engine?.taskProgress?.();
    if (progress === undefined || this.#plan === undefined) return undefined;
    return buildLiveStats(this.#plan.nodes, progress, performance.now() - this.#startedAt);
  }

  /** Signals termination: producers stop, the end of stream flows down, every `close()` runs. */
  stop(): void {
    this.#stopRequested = true;
    if (this.#state === 'running') this.#engine?.signalFlowTermination();
  }

  async #collect(engine: ExecutionEngine, plan: ExecutionPlan): Promise<FlowReport> {
    let outcomes: readonly TaskOutcome[];
    try {
      outcomes = await engine.joinTaskProcesses();
    } finally {
      this.#releaseSigint();
      this.#state = 'finished';
    }
    const durationMs = performance.now() - this.#startedAt;
    const stopped = this.#stopRequested || outcomes.some((outcome) => outcome.status === 'stopped');
    const error = taskFailureOf(outcomes);
    this.#lostTasks = outcomes.filter((outcome) => outcome.status === 'lost').length;
    return buildReport({
      status: error !== undefined ? 'failed' : stopped ? 'stopped' : 'completed',
      ...(error === undefined ? {} : { error }),
      durationMs,
      nodes: plan.nodes,
      outcomes,
    });
  }

  #releaseSigint(): void {
    process.removeListener('SIGINT', this.#onSigint);
  }
}

/**
 * Marks every Flow, whichever copy of @vf/core made it (`Symbol.for` is the same in every copy): a
 * CommonJS flow module loads its own copy, whose Flow is not this copy's (`instanceof` fails), and
 * must be told so rather than that it returned no Flow.
 */
const FLOW_BRAND = Symbol.for('@vf/core.Flow');
Object.defineProperty(Flow.prototype, FLOW_BRAND, { value: true });

function isFlowOfAnotherCopy(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FLOW_BRAND] === true;
}

/** Every task logs at this process's level and format, tagged with the run's id. */
function withTaskLogging(plan: ExecutionPlan, runId: string): ExecutionPlan {
  const env = taskLoggingEnv(runId);
  return { ...plan, tasks: plan.tasks.map((task) => ({ ...task, env: { ...env, ...task.env } })) };
}

function toModuleUrl(moduleUrl: string | URL): string {
  if (moduleUrl instanceof URL) return moduleUrl.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(moduleUrl) && !/^[a-z]:[\\/]/i.test(moduleUrl)) return moduleUrl;
  return pathToFileURL(moduleUrl).href;
}
