/**
 * The opt-in HTTP endpoint of a running flow (`flow.run(engine, { metrics: { port } })`):
 * Prometheus text on `/metrics` (through prom-client), `/healthz` and `/readyz`. Everything it
 * serves is read from the engine's task progress, the source of `flow.liveStats()`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import type { TaskProgress } from '../contracts/engine.js';
import { FlowValidationError, VfError } from '../errors.js';
import type { LiveStats } from './liveStats.js';

/** Options of the metrics endpoint (`RunOptions.metrics`). */
export interface MetricsOptions {
  /** TCP port; 0 lets the system pick a free one (read it from `flow.metricsUrl`). */
  readonly port: number;
  /**
   * Address to listen on: an IP address (IPv6 without brackets, `::1`) or a host name. Default
   * `127.0.0.1` (loopback): say `0.0.0.0` to let another machine scrape. An empty host is refused.
   */
  readonly host?: string;
}

/** What the endpoint reads from its flow, at each request. */
export interface MetricsSource {
  /** Every task's latest counters; empty before the tasks start. */
  taskProgress(): readonly TaskProgress[];
  liveStats(): LiveStats | undefined;
  /** `starting`, `running` (every task started: ready) or `finished`. */
  phase(): 'starting' | 'running' | 'finished';
  /** Tasks lost so far (known once the flow has finished). */
  lostTasks(): number;
}

/** A listening metrics endpoint. */
export interface MetricsEndpoint {
  /** `http://host:port`, the port the system picked when asked for 0. */
  readonly url: string;
  close(): Promise<void>;
}

/** Upper bounds of the processing-time histogram, in seconds: 100 µs to 10 s. */
const PROCTIME_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** How often task progress is sampled into the processing-time histogram while the flow runs. */
const SAMPLE_MS = 250;

/** Checks `RunOptions.metrics` before anything starts. */
export function checkMetricsOptions(metrics: unknown): asserts metrics is MetricsOptions {
  const options = metrics as Partial<MetricsOptions> | null;
  if (
    typeof options !== 'object' ||
    options === null ||
    !Number.isInteger(options.port) ||
    (options.port as number) < 0 ||
    (options.port as number) > 65535
  ) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `flow.run(): metrics must be { port } with port an integer from 0 (any free port) to 65535, got ${JSON.stringify(metrics)}`,
      {
        details: { option: 'metrics.port' },
      },
    );
  }
  for (const key of Object.keys(options)) {
    if (key !== 'port' && key !== 'host') {
      throw new FlowValidationError('INVALID_OPTION', `flow.run(): metrics.${key} is not an option (the options are port, host)`, {
        details: { option: `metrics.${key}` },
      });
    }
  }
  if (options.host !== undefined && !isHost(options.host)) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `flow.run(): metrics.host must be an IP address ("127.0.0.1", "0.0.0.0", "::1", without brackets) or a host name ("localhost"), got ${JSON.stringify(options.host)}; leave it out for 127.0.0.1`,
      {
        details: { option: 'metrics.host' },
      },
    );
  }
}

/** A DNS host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME = /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * Whether `host` can be listened on and written in `flow.metricsUrl`: an empty host would listen on
 * every interface and make the URL `http://:port`; a bracketed or zoned IPv6 address, or a name
 * with spaces, makes no usable URL.
 */
function isHost(host: unknown): host is string {
  if (typeof host !== 'string') return false;
  if (isIP(host) === 4 || HOST_NAME.test(host)) return true;
  return isIP(host) === 6 && !host.includes('%');
}

/** `http://host:port`, an IPv6 address in brackets. */
function endpointUrl(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * The drops of every task, counted on the task they were meant for, as the report and
 * `liveStats()` count them (on the receiving node, per edge). A task counts what it discarded on
 * its inputs; a realtime publisher counts on its own task the stale messages it replaced before
 * sending them: those go to the receiving node, on its only task, or on task `any` when it has
 * replicas (the message was meant for whichever replica would take it first).
 */
function dropsByReceiver(
  progress: readonly TaskProgress[],
  live: LiveStats | undefined,
): Array<{ node: string; task: string; count: number }> {
  const counts = new Map<string, { node: string; task: string; count: number }>();
  const add = (node: string, task: string, count: number) => {
    const key = JSON.stringify([node, task]);
    const found = counts.get(key) ?? { node, task, count: 0 };
    found.count += count;
    counts.set(key, found);
  };
  for (const task of progress) {
    // Every task has its series, 0 when nothing meant for it was dropped.
    add(task.nodeName, String(task.taskIndex), 0);
    for (const edge of task.stats.drops) {
      if (edge.to === task.nodeName) add(edge.to, String(task.taskIndex), edge.count);
      else add(edge.to, live?.nodes.find((node) => node.name === edge.to)?.tasks === 1 ? '0' : 'any', edge.count);
    }
  }
  return [...counts.values()];
}

/**
 * Starts the endpoint. The server never keeps the process alive (it is unref'd and closes every
 * connection after its response): a batch job still exits when its flow is done, and until then a
 * last scrape reads the final counters.
 */
export async function startMetricsServer(options: MetricsOptions, source: MetricsSource): Promise<MetricsEndpoint> {
  // Loaded only when asked for: task processes and flows without metrics never pay for it.
  const { Counter, Gauge, Histogram, Registry } = await import('prom-client');
  const registry = new Registry();
  const taskLabels = ['node', 'task'] as const;
  const perTask = (name: string, help: string, read: (task: TaskProgress) => number) =>
    new Counter({
      name,
      help,
      labelNames: taskLabels,
      registers: [registry],
      collect() {
        this.reset();
        for (const task of source.taskProgress()) this.inc({ node: task.nodeName, task: String(task.taskIndex) }, read(task));
      },
    });
  perTask('vf_task_received_total', 'Aligned input sets the task handled', (task) => task.stats.received);
  perTask('vf_task_emitted_total', 'Messages the task published', (task) => task.stats.emitted);
  new Counter({
    name: 'vf_task_dropped_total',
    help: 'Messages meant for the task that were discarded (stale, or impossible to align); task "any": dropped by a realtime publisher before a replica of the node took them',
    labelNames: taskLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const { node, task, count } of dropsByReceiver(source.taskProgress(), source.liveStats())) this.inc({ node, task }, count);
    },
  });
  perTask('vf_task_processed_total', 'Items the task produced, processed or consumed', (task) => task.stats.processed);
  new Gauge({
    name: 'vf_node_queue_depth',
    help: 'Messages published to the node that it has neither handled nor dropped yet (an estimate)',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of source.liveStats()?.nodes ?? []) this.set({ node: node.name }, node.queued);
    },
  });
  new Gauge({
    name: 'vf_flow_running',
    help: '1 while every task of the flow runs, else 0',
    registers: [registry],
    collect() {
      this.set(source.phase() === 'running' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vf_tasks_lost',
    help: 'Task processes that died while the flow recovered without them (restartOnFailure); known once the flow has finished',
    registers: [registry],
    collect() {
      this.set(source.lostTasks());
    },
  });
  const proctime = new Histogram({
    name: 'vf_node_processing_seconds',
    help: 'Processing time per item. Tasks report sums every 250 ms: the items of each report count at that report’s mean',
    labelNames: ['node'],
    buckets: PROCTIME_BUCKETS,
    registers: [registry],
  });
  // Per task: the processed count and total time already put in the histogram.
  const sampled = new Map<number, { processed: number; proctimeMs: number }>();
  const sample = () => {
    for (const task of source.taskProgress()) {
      const before = sampled.get(task.taskId) ?? { processed: 0, proctimeMs: 0 };
      const items = task.stats.processed - before.processed;
      if (items <= 0) continue;
      const meanSeconds = (task.stats.proctimeTotalMs - before.proctimeMs) / items / 1000;
      for (let item = 0; item < items; item += 1) proctime.observe({ node: task.nodeName }, Math.max(0, meanSeconds));
      sampled.set(task.taskId, { processed: task.stats.processed, proctimeMs: task.stats.proctimeTotalMs });
    }
  };
  const sampler = setInterval(sample, SAMPLE_MS);
  sampler.unref();

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    response.setHeader('Connection', 'close');
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      sample();
      response.writeHead(200, { 'Content-Type': registry.contentType });
      response.end(await registry.metrics());
    } else if (path === '/healthz') {
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.end('ok\n');
    } else if (path === '/readyz') {
      const phase = source.phase();
      response.writeHead(phase === 'running' ? 200 : 503, { 'Content-Type': 'text/plain' });
      response.end(`${phase}\n`);
    } else {
      response.writeHead(404, { 'Content-Type': 'text/plain' });
      response.end('not found: try /metrics, /healthz or /readyz\n');
    }
  };
  // Imported here: every task process loads this module (through Flow), and none serves metrics.
  const { createServer } = await import('node:http');
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { 'Content-Type': 'text/plain' });
      response.end(`${(error as Error).message}\n`);
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      clearInterval(sampler);
      reject(
        new VfError(
          'METRICS_UNAVAILABLE',
          `flow.run(): the metrics endpoint cannot listen on ${host}:${options.port}: ${error.message}. Choose another metrics.port, or 0 for any free one`,
          {
            cause: error,
            details: { option: 'metrics.port', port: options.port, host },
          },
        ),
      );
    });
    server.listen(options.port, host, () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: endpointUrl(host, port),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sampler);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
