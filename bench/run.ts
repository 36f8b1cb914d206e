/**
 * `pnpm bench`: vf's benchmarks. Transport cases print msgs/s, MB/s and their ratio to a baseline
 * measured in this same run on this same machine (raw ZeroMQ ipc one hop, Buffer.copy). The
 * overload case (E4) runs one flow on the batch and the realtime engine side by side. The soak case
 * pushes 1,000,000 small messages through batch and checks that none is lost or duplicated; the
 * redispatch case SIGKILLs a replica mid-run under `restartOnFailure` and compares with clean runs.
 * `VF_BENCH_CASES=transport,latency,overload,soak,redispatch` picks cases; `VF_BENCH_ROWS=small,latency` picks
 * rows within them (by a word of their name: `small`, `frames`, `startup`, `latency`); `VF_BENCH_SCALE`
 * scales item counts.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { encodeValue } from '@vf/core/engine';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { RealtimeExecutionEngine } from '@vf/engine-realtime';
import * as zmq from 'zeromq';

const FRAME_BYTES = 1920 * 1080 * 3;
const SMALL = { index: 1, x: 2, y: 3.5, label: 'car', ok: true };
const SMALL_BYTES = encodeValue(SMALL).reduce((total, frame) => total + frame.length, 0);
const scale = Number(process.env.VF_BENCH_SCALE ?? 1);
const cases = new Set((process.env.VF_BENCH_CASES ?? 'transport,latency,overload,soak,redispatch').split(','));
const rows = process.env.VF_BENCH_ROWS === undefined ? undefined : new Set(process.env.VF_BENCH_ROWS.split(','));
/** Whether the row tagged `tag` runs (`VF_BENCH_ROWS`; every row when unset). */
const runsRow = (tag: string) => rows === undefined || rows.has(tag);
const flowUrl = new URL('./flows/throughput.ts', import.meta.url);
const overloadUrl = new URL('./flows/overload.ts', import.meta.url);
const soakUrl = new URL('./flows/soak.ts', import.meta.url);
const latencyUrl = new URL('./flows/latency.ts', import.meta.url);

interface Result {
  readonly name: string;
  readonly perSecond: number;
  readonly bytes: number;
}

/** Raw ZeroMQ: Push → Pull over ipc in one process, one hop, no encoding. */
async function rawZmq(count: number, payload: Buffer): Promise<number> {
  const socketPath = join(tmpdir(), `vf-bench-${process.pid}`);
  const address = `ipc://${socketPath}`;
  const pull = new zmq.Pull({ receiveHighWaterMark: 1000 });
  await pull.bind(address);
  const push = new zmq.Push({ sendHighWaterMark: 1000 });
  push.connect(address);
  const header = Buffer.from('h');
  const receiving = (async () => {
    let received = 0;
    let started = 0;
    for await (const _ of pull) {
      if (received === 0) started = performance.now();
      received += 1;
      if (received === count) return (count - 1) / ((performance.now() - started) / 1000);
    }
    return 0;
  })();
  for (let index = 0; index < count; index++) await push.send([header, payload]);
  const rate = await receiving;
  push.close();
  pull.close();
  rmSync(socketPath, { force: true });
  return rate;
}

/** In-process Buffer.copy of one frame into a reused destination: the memory-bandwidth ceiling. */
function bufferCopy(count: number): number {
  const source = Buffer.alloc(FRAME_BYTES, 7);
  const target = Buffer.alloc(FRAME_BYTES);
  const started = performance.now();
  for (let index = 0; index < count; index++) source.copy(target);
  return count / ((performance.now() - started) / 1000);
}

/** A vf flow on the batch engine: rate between the first and last item at the consumer. */
async function flowRate(params: { count: number; payload: 'small' | 'frame'; identities: number; nbTasks: number }) {
  const out = join(tmpdir(), `vf-bench-${process.pid}-${Date.now()}.json`);
  const flow = await Flow.load(flowUrl, { ...params, out });
  const runAt = Date.now();
  await flow.run(new BatchExecutionEngine({ queueSize: Number(process.env.VF_BENCH_QUEUE ?? 16) }));
  const report = await flow.join();
  if (report.status !== 'completed') throw new Error(`benchmark flow ${report.status}: ${report.error?.message}`);
  const timing = JSON.parse(readFileSync(out, 'utf8')) as { first: number; last: number; count: number };
  const first = Number(readFileSync(`${out}.first`, 'utf8'));
  rmSync(out, { force: true });
  rmSync(`${out}.first`, { force: true });
  if (timing.count !== params.count) throw new Error(`lost items: ${timing.count} of ${params.count}`);
  return { perSecond: (timing.count - 1) / ((timing.last - timing.first) / 1000), firstAfterMs: first - runAt };
}

function line(result: Result, baselines: ReadonlyArray<[string, number]>): string {
  const mbs = (result.perSecond * result.bytes) / 1e6;
  const ratios = baselines.map(([name, rate]) => `${(result.perSecond / rate).toFixed(2)}× ${name}`).join(', ');
  return `${result.name.padEnd(52)} ${Math.round(result.perSecond).toLocaleString('en').padStart(9)} msg/s ${mbs.toFixed(0).padStart(6)} MB/s   ${ratios}`;
}

console.log(`vf bench — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, scale ${scale}`);
if (cases.has('transport')) await transport();
if (cases.has('latency')) await latency();
if (cases.has('overload')) await overload();
if (cases.has('soak')) await soak();
if (cases.has('redispatch')) await redispatch();

async function transport(): Promise<void> {
  const smallCount = Math.round(100_000 * scale);
  const frameCount = Math.round(300 * scale);

  if (runsRow('small')) {
    const rawSmall = await rawZmq(smallCount, encodeValue(SMALL)[0] as Buffer);
    console.log(line({ name: 'baseline: raw zeromq ipc, one hop, small', perSecond: rawSmall, bytes: SMALL_BYTES }, []));
    const small = await flowRate({ count: smallCount, payload: 'small', identities: 1, nbTasks: 1 });
    console.log(
      line({ name: `batch: producer→identity→consumer, ${smallCount} small`, perSecond: small.perSecond, bytes: SMALL_BYTES }, [
        ['raw zmq', rawSmall],
      ]),
    );
  }
  if (runsRow('frames')) {
    const rawFrames = await rawZmq(frameCount, Buffer.alloc(FRAME_BYTES, 7));
    const copyFrames = bufferCopy(frameCount);
    console.log(line({ name: 'baseline: raw zeromq ipc, one hop, 1080p frame', perSecond: rawFrames, bytes: FRAME_BYTES }, []));
    console.log(line({ name: 'baseline: Buffer.copy, 1080p frame', perSecond: copyFrames, bytes: FRAME_BYTES }, []));
    const frames = await flowRate({ count: frameCount, payload: 'frame', identities: 1, nbTasks: 1 });
    console.log(
      line({ name: `batch: producer→identity→consumer, ${frameCount} frames`, perSecond: frames.perSecond, bytes: FRAME_BYTES }, [
        ['raw zmq', rawFrames],
        ['Buffer.copy', copyFrames],
      ]),
    );
    const replicated = await flowRate({ count: frameCount, payload: 'frame', identities: 1, nbTasks: 2 });
    console.log(
      line({ name: `batch: frames, identity nbTasks: 2`, perSecond: replicated.perSecond, bytes: FRAME_BYTES }, [
        ['raw zmq', rawFrames],
        ['Buffer.copy', copyFrames],
      ]),
    );
  }
  if (runsRow('startup')) {
    const startup = await flowRate({ count: 10, payload: 'small', identities: 3, nbTasks: 1 });
    console.log(`batch: flow.run() → first consumed message, 5-task flow: ${startup.firstAfterMs.toFixed(0)} ms`);
  }
}

/** Raw ZeroMQ one-hop latency: `count` small messages paced at `fps`, Push → Pull over ipc in one process; the median in ms. */
async function rawZmqLatency(count: number, fps: number): Promise<number> {
  const socketPath = join(tmpdir(), `vf-bench-latency-${process.pid}`);
  const address = `ipc://${socketPath}`;
  const pull = new zmq.Pull();
  await pull.bind(address);
  const push = new zmq.Push();
  push.connect(address);
  const latencies: number[] = [];
  const receiving = (async () => {
    for await (const [frame] of pull) {
      latencies.push(performance.now() - (frame as Buffer).readDoubleLE(0));
      if (latencies.length === count) return;
    }
  })();
  for (let index = 0; index < count; index++) {
    const stamp = Buffer.alloc(8);
    stamp.writeDoubleLE(performance.now());
    await push.send(stamp);
    await new Promise((resolve) => setTimeout(resolve, 1000 / fps));
  }
  await receiving;
  push.close();
  pull.close();
  rmSync(socketPath, { force: true });
  return percentile(
    latencies.sort((a, b) => a - b),
    50,
  );
}

/** Least-squares slope of `ys` over `xs`. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const mean = (values: readonly number[]) => values.reduce((total, value) => total + value, 0) / values.length;
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (const [index, x] of xs.entries()) {
    num += (x - mx) * ((ys[index] as number) - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

/**
 * E3, per-hop latency: 250 items paced at 50/s through chains of 1, 2, 4 and 8 identity hops on the
 * batch engine; the slope of the median end-to-end latency over the number of hops, against one raw
 * ZeroMQ hop measured the same way.
 */
async function latency(): Promise<void> {
  const count = Math.max(50, Math.round(250 * scale));
  const fps = 50;
  const raw = await rawZmqLatency(count, fps);
  console.log(`\nper-hop latency (E3): ${count} items at ${fps}/s through chains of identity hops, batch engine (median ms)`);
  const chains = [1, 2, 4, 8];
  const medians: number[] = [];
  for (const hops of chains) {
    const out = join(tmpdir(), `vf-bench-latency-${process.pid}-${hops}.json`);
    const flow = await Flow.load(latencyUrl, { count, fps, hops, out });
    await flow.run(new BatchExecutionEngine());
    const report = await flow.join();
    if (report.status !== 'completed') throw new Error(`latency flow (${hops} hops) ${report.status}: ${report.error?.message}`);
    const { latenciesMs } = JSON.parse(readFileSync(out, 'utf8')) as { latenciesMs: number[] };
    rmSync(out, { force: true });
    if (latenciesMs.length !== count) throw new Error(`lost items: ${latenciesMs.length} of ${count}`);
    const sorted = [...latenciesMs].sort((a, b) => a - b);
    medians.push(percentile(sorted, 50));
    console.log(
      `  ${String(hops).padStart(2)} hops: p50 ${percentile(sorted, 50).toFixed(3)} ms, p95 ${percentile(sorted, 95).toFixed(3)} ms`,
    );
  }
  const perHop = slope(chains, medians);
  console.log(
    `${'batch: per-hop latency, fitted slope'.padEnd(52)} ${perHop.toFixed(3).padStart(9)} ms/hop   ${(perHop / raw).toFixed(2)}× raw zmq one hop (${raw.toFixed(3)} ms)`,
  );
}

/** A percentile of sorted values (nearest rank). */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/**
 * E4, the overload experiment: a 100 fps camera into a 25 ms/item processor (capacity 40/s) for
 * 5 s, on each engine. Batch slows the camera down and queues; realtime drops stale frames.
 */
async function overload(): Promise<void> {
  const count = Math.max(100, Math.round(500 * scale));
  const params = { count, fps: 100, workMs: 25 };
  console.log(
    `\noverload (E4): camera ${params.fps} fps × ${count} items → ${params.workMs} ms/item processor (capacity ${1000 / params.workMs}/s) → sink`,
  );
  console.log(
    `${'engine'.padEnd(10)} ${'camera/s'.padStart(9)} ${'delivered/s'.padStart(12)} ${'drop rate'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)}`,
  );
  const engines = [
    ['batch', () => new BatchExecutionEngine()],
    ['realtime', () => new RealtimeExecutionEngine()],
  ] as const;
  for (const [name, createEngine] of engines) {
    const out = join(tmpdir(), `vf-bench-overload-${process.pid}-${name}.json`);
    const flow = await Flow.load(overloadUrl, { ...params, out });
    await flow.run(createEngine());
    const report = await flow.join();
    if (report.status !== 'completed') throw new Error(`overload flow on ${name} ${report.status}: ${report.error?.message}`);
    const result = JSON.parse(readFileSync(out, 'utf8')) as { latenciesMs: number[]; first: number; last: number };
    rmSync(out, { force: true });
    const latencies = [...result.latenciesMs].sort((a, b) => a - b);
    const camera = report.nodes.find((node) => node.name === 'camera');
    const delivered = latencies.length;
    const perSecond = (delivered - 1) / ((result.last - result.first) / 1000);
    const dropRate = 1 - delivered / count;
    console.log(
      `${name.padEnd(10)} ${(camera?.actualFps ?? 0).toFixed(1).padStart(9)} ${perSecond.toFixed(1).padStart(12)} ${`${(dropRate * 100).toFixed(1)}%`.padStart(10)} ${percentile(latencies, 50).toFixed(0).padStart(8)} ${percentile(latencies, 95).toFixed(0).padStart(8)} ${(latencies.at(-1) ?? 0).toFixed(0).padStart(8)}`,
    );
  }
}

interface SoakResult {
  readonly received: number;
  readonly inOrder: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly first: number;
  readonly last: number;
}

/**
 * Runs numbers → worker → checker on the batch engine. `killAt`: SIGKILL the first worker replica
 * once that share of the items has been produced. Returns the checker's verdict and the time from
 * `flow.run()` resolving (every task started) to `flow.join()` resolving.
 */
async function soakRun(
  params: { count: number; nbTasks: number; workMs: number },
  options: { restartOnFailure: boolean; killAt?: number },
) {
  const out = join(tmpdir(), `vf-bench-soak-${process.pid}-${Date.now()}.json`);
  const pidFile = `${out}.pids`;
  const flow = await Flow.load(soakUrl, { ...params, out, pidFile });
  await flow.run(new BatchExecutionEngine({ queueSize: 16, restartOnFailure: options.restartOnFailure }));
  const startedAt = performance.now();
  if (options.killAt !== undefined) {
    const killAt = options.killAt;
    const deadline = Date.now() + 60_000;
    while ((flow.liveStats()?.nodes.find((node) => node.name === 'numbers')?.processed ?? 0) < params.count * killAt) {
      if (Date.now() > deadline) throw new Error('the flow never got far enough to kill a replica');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const victim = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    process.kill(victim, 'SIGKILL');
  }
  const report = await flow.join();
  const elapsedMs = performance.now() - startedAt;
  const result = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as SoakResult) : undefined;
  rmSync(out, { force: true });
  rmSync(pidFile, { force: true });
  if (report.status !== 'completed' || result === undefined) throw new Error(`soak flow ${report.status}: ${report.error?.message}`);
  const lost = params.count - result.inOrder;
  return { result, lost, elapsedMs, lostTasks: report.lostTasks.length };
}

/** Soak: 1,000,000 small messages through batch, twice (one identity task, then two replicas). */
async function soak(): Promise<void> {
  const count = Math.round(1_000_000 * scale);
  const rawSmall = await rawZmq(Math.min(count, 200_000), encodeValue(SMALL)[0] as Buffer);
  console.log(`\nsoak: ${count.toLocaleString('en')} small messages, batch, numbers → worker → checker`);
  console.log(line({ name: 'baseline: raw zeromq ipc, one hop, small', perSecond: rawSmall, bytes: SMALL_BYTES }, []));
  for (const nbTasks of [1, 2]) {
    const { result, lost, elapsedMs } = await soakRun({ count, nbTasks, workMs: 0 }, { restartOnFailure: false });
    const perSecond = (result.received - 1) / ((result.last - result.first) / 1000);
    console.log(
      `${line({ name: `soak: worker nbTasks ${nbTasks}`, perSecond, bytes: SMALL_BYTES }, [['raw zmq', rawSmall]])}   ` +
        `lost ${lost}, duplicated ${result.duplicated}, out of order ${result.outOfOrder} (${(elapsedMs / 1000).toFixed(1)} s)`,
    );
  }
}

/**
 * Re-dispatch: a 3-replica worker (2 ms per item) with one replica SIGKILLed a quarter of the way
 * through, under `restartOnFailure`, against clean runs without and with the option.
 */
async function redispatch(): Promise<void> {
  const params = { count: Math.round(6_000 * scale), nbTasks: 3, workMs: 2 };
  console.log(`\nredispatch: ${params.count} items → worker (3 replicas, ${params.workMs} ms/item) → checker; time from run() to join()`);
  const clean = await soakRun(params, { restartOnFailure: false });
  const cleanWithOption = await soakRun(params, { restartOnFailure: true });
  const killed = await soakRun(params, { restartOnFailure: true, killAt: 0.25 });
  const rows = [
    ['clean run (baseline)', clean],
    ['clean run, restartOnFailure', cleanWithOption],
    ['one replica SIGKILLed at 25%', killed],
  ] as const;
  for (const [name, run] of rows) {
    console.log(
      `${name.padEnd(32)} ${(run.elapsedMs / 1000).toFixed(2).padStart(6)} s  ${(run.elapsedMs / clean.elapsedMs).toFixed(2)}× baseline  ` +
        `lost ${run.lost}, duplicated ${run.result.duplicated}, out of order ${run.result.outOfOrder}, lost tasks ${run.lostTasks}`,
    );
  }
}
