import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Flow, FlowReport } from '@vf/core';
import type { FlowObserver, JobInfo } from '../analyzeVideo.js';
import { RateMeter } from '../rateMeter.js';
import { LIVE_PAGE } from './livePage.js';

/** The flow graph as the page draws it (the `graph` event). */
export interface LiveGraph {
  readonly title: string;
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly kind: string; readonly tasks: number; readonly depth: number }>;
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string }>;
}

/** Per-node numbers of one update (the `stats` event). */
export interface LiveUpdate {
  readonly elapsedMs: number;
  readonly nodes: ReadonlyArray<{
    readonly name: string;
    readonly fps: number;
    readonly processed: number;
    readonly queued: number;
    readonly dropped: number;
    /** What its tasks run on, as the report prints it: `cpu (wasm)×2`. */
    readonly device: string;
    /** The node that limits the flow now (lowest possible fps; see `NodeReport.bottleneck`). */
    readonly bottleneck: boolean;
    /** Its fps at the last {@link FPS_HISTORY_LENGTH} updates, oldest first (a sparkline). */
    readonly history: readonly number[];
  }>;
  /** Every edge of the graph with the messages dropped on it so far (0 for most). */
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string; readonly dropped: number }>;
  /** Version (modification time, ms) of the latest preview frame at `/preview.jpg`; null until there is one. */
  readonly preview: number | null;
}

/** Updates an fps history keeps: 60 at the default 250 ms, the last 15 s. */
export const FPS_HISTORY_LENGTH = 60;

/** Options of {@link LiveServer.listen}. */
export interface LiveServerOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Default `127.0.0.1`: the view is for this machine only. */
  readonly host?: string;
  /** Period of the `stats` events, in ms. Default 250 (the rate tasks report at). */
  readonly intervalMs?: number;
}

/**
 * The live view: a small page on localhost (node:http, no framework) showing the flow graph and each
 * node's current fps, processed count, queue and drops, pushed to the page by server-sent events
 * (`graph` once, `stats` every 250 ms, `done` with the final status). SSE rather than WebSocket:
 * one direction is all it needs, and browsers reconnect by themselves. Numbers come from
 * `flow.liveStats()`, which any engine provides.
 */
export class LiveServer implements FlowObserver {
  readonly #server: Server;
  readonly #intervalMs: number;
  readonly #clients = new Set<ServerResponse>();
  #graph: LiveGraph | undefined;
  #latest: LiveUpdate | undefined;
  #done: { status: string; durationMs: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #previewFile: string | undefined;

  private constructor(server: Server, intervalMs: number) {
    this.#server = server;
    this.#intervalMs = intervalMs;
    server.on('request', (request, response) => this.#handle(request, response));
  }

  /** Starts serving; resolves once listening. Rejects when the port is taken. */
  static listen(options: LiveServerOptions): Promise<LiveServer> {
    const server = createServer();
    const live = new LiveServer(server, options.intervalMs ?? 250);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve(live);
      });
    });
  }

  /** Where the page is. */
  get url(): string {
    const { address, port } = this.#server.address() as AddressInfo;
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}/`;
  }

  start(flow: Flow, job: JobInfo): void {
    const graph = graphOf(flow, `${job.input.split('/').pop() ?? job.input} · ${job.engine} engine`);
    this.#graph = graph;
    this.#broadcast('graph', graph);
    this.#previewFile = job.previewFile;
    const rates = new RateMeter();
    const histories = new Map<string, number[]>();
    this.#timer = setInterval(() => {
      const stats = flow.liveStats();
      if (stats === undefined) return;
      const fps = rates.add(stats);
      this.#latest = {
        elapsedMs: Math.round(stats.elapsedMs),
        nodes: stats.nodes.map((node) => {
          const rate = Math.round((fps.get(node.name) ?? 0) * 10) / 10;
          const history = histories.get(node.name) ?? [];
          history.push(rate);
          if (history.length > FPS_HISTORY_LENGTH) history.shift();
          histories.set(node.name, history);
          return {
            name: node.name,
            fps: rate,
            processed: node.processed,
            queued: node.queued,
            dropped: node.dropped,
            device: compactLabels(node.deviceLabel),
            bottleneck: node.bottleneck,
            history: [...history],
          };
        }),
        edges: graph.edges.map((edge) => ({
          ...edge,
          dropped: stats.edges.find((drop) => drop.from === edge.from && drop.to === edge.to)?.dropped ?? 0,
        })),
        preview: previewVersion(this.#previewFile),
      };
      this.#broadcast('stats', this.#latest);
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(report: FlowReport): void {
    clearInterval(this.#timer);
    this.#done = { status: report.status, durationMs: Math.round(report.durationMs) };
    this.#broadcast('done', this.#done);
  }

  /** Ends every open event stream and stops listening. */
  close(): Promise<void> {
    clearInterval(this.#timer);
    for (const client of this.#clients) client.end();
    this.#clients.clear();
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET') {
      response.writeHead(405).end();
    } else if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(LIVE_PAGE);
    } else if (path === '/preview.jpg') {
      this.#servePreview(response);
    } else if (path === '/events') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      this.#clients.add(response);
      request.on('close', () => this.#clients.delete(response));
      // A page that connects late catches up at once.
      if (this.#graph !== undefined) send(response, 'graph', this.#graph);
      if (this.#latest !== undefined) send(response, 'stats', this.#latest);
      if (this.#done !== undefined) send(response, 'done', this.#done);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }

  #servePreview(response: ServerResponse): void {
    let image: Buffer;
    try {
      if (this.#previewFile === undefined) throw new Error('no preview in this job');
      image = readFileSync(this.#previewFile);
    } catch {
      response.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('no preview frame yet\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'no-store' }).end(image);
  }

  #broadcast(event: string, data: unknown): void {
    for (const client of this.#clients) send(client, event, data);
  }
}

/** The preview file's modification time in ms (its version for the page), or null while there is none. */
function previewVersion(file: string | undefined): number | null {
  if (file === undefined) return null;
  try {
    return Math.round(statSync(file).mtimeMs);
  } catch {
    return null;
  }
}

/** Device labels compacted as the report prints them: `cpu (wasm)×2`, `gpu:0 (wasm) gpu:1 (wasm)`. */
export function compactLabels(labels: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return [...counts].map(([label, count]) => (count > 1 ? `${label}×${count}` : label)).join(' ');
}

function send(response: ServerResponse, event: string, data: unknown): void {
  response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** The graph of a flow, each node with its depth (longest path from a producer) for the layout. */
export function graphOf(flow: Flow, title: string): LiveGraph {
  const depth = new Map<string, number>();
  // flow.nodes is in topological order: parents first.
  for (const node of flow.nodes) depth.set(node.name, Math.max(-1, ...node.parents.map((parent) => depth.get(parent.name) ?? 0)) + 1);
  return {
    title,
    nodes: flow.nodes.map((node) => ({ name: node.name, kind: node.kind, tasks: node.nbTasks, depth: depth.get(node.name) ?? 0 })),
    edges: flow.nodes.flatMap((node) => node.parents.map((parent) => ({ from: parent.name, to: node.name }))),
  };
}
