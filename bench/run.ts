/**
 * `pnpm bench`: vf's benchmarks. Transport cases print msgs/s, MB/s and their ratio to a baseline
 * measured in this same run on this same machine (raw ZeroMQ ipc one hop, Buffer.copy). The
 * overload case (E4) runs one flow on the batch and the realtime engine side by side. The soak case
 * pushes 1,000,000 small messages through batch and checks that none is lost or duplicated; the
 * redispatch case SIGKILLs a replica mid-run under `restartOnFailure` and compares with clean runs.
 * The onerror case (issue 18) times failing items, retries and dead letters against a clean run.
 * The startup case times `flow.run()` → first consumed message against a bare `node -e 0`; scaleout
 * (E2) replicates a 20 ms stage 1, 2, 4 and 8 times; memory samples each task's RSS over a soak and
 * a frames run. `VF_BENCH_CASES=transport,startup,scaleout,overload,soak,memory,redispatch,onerror`
 * picks cases, plus `latency` (E3: per-hop latency through chains of identity hops, against raw
 * ZeroMQ and a chain of bare node processes; `frames`: only the frame rows of transport, with their
 * baselines); `VF_BENCH_ROWS=small,frames` picks rows of the transport case; `VF_BENCH_SCALE`
 * scales item counts.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Flow, InProcessEngine } from '@vf/core';
import {
  createSharedDirectory,
  encodeValue,
  nativeSharedMemory,
  packDataHeader,
  parseDataHeader,
  removeSharedDirectory,
  SHARED_STATS_ENV,
  SharedFrameReader,
  SharedFrameSender,
  type SharedFrameStats,
} from '@vf/core/engine';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { RealtimeExecutionEngine } from '@vf/engine-realtime';
import * as zmq from 'zeromq';
import { MARK_EVERY } from './flows/throughput.js';

const FRAME_BYTES = 1920 * 1080 * 3;
const SMALL = { index: 1, x: 2, y: 3.5, label: 'car', ok: true };
const SMALL_BYTES = encodeValue(SMALL).reduce((total, frame) => total + frame.length, 0);
const scale = Number(process.env.VF_BENCH_SCALE ?? 1);
const cases = new Set(
  (process.env.VF_BENCH_CASES ?? 'transport,latency,startup,scaleout,overload,soak,memory,redispatch,onerror').split(','),
);
const rows = process.env.VF_BENCH_ROWS === undefined ? undefined : new Set(process.env.VF_BENCH_ROWS.split(','));
/** Whether the row tagged `tag` runs (`VF_BENCH_ROWS`; every row when unset). */
const runsRow = (tag: string) => rows === undefined || rows.has(tag);
/** How many times the paired transport rows run, interleaved (`VF_BENCH_REPEATS`, default 5). */
const repeats = Math.max(1, Number(process.env.VF_BENCH_REPEATS ?? 5));
/** How many interleaved rounds the latency case runs (`VF_BENCH_LATENCY_ROUNDS`, default 3). */
const latencyRounds = Math.max(1, Number(process.env.VF_BENCH_LATENCY_ROUNDS ?? 3));
/** How many interleaved rounds the scale-out case runs (`VF_BENCH_SCALEOUT_ROUNDS`, default 3). */
const scaleoutRounds = Math.max(1, Number(process.env.VF_BENCH_SCALEOUT_ROUNDS ?? 3));
const flowUrl = new URL('./flows/throughput.ts', import.meta.url);
const latencyUrl = new URL('./flows/latency.ts', import.meta.url);
const overloadUrl = new URL('./flows/overload.ts', import.meta.url);
const soakUrl = new URL('./flows/soak.ts', import.meta.url);
const scaleoutUrl = new URL('./flows/scaleout.ts', import.meta.url);

interface Result {
  readonly name: string;
  readonly perSecond: number;
  readonly bytes: number;
}

/**
 * CPU time (user + system, ms) of this process's finished children, the tasks of the flows it ran:
 * `/proc/self/stat` cutime + cstime. Unlike rates, it hardly moves with the machine's load.
 */
function childrenCpuMs(): number {
  if (process.platform !== 'linux') return Number.NaN;
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[13]) + Number(fields[14]);
  return (ticks * 1000) / CLOCK_TICKS;
}

const CLOCK_TICKS = process.platform === 'linux' ? Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) : 100;

/** The raw baseline's queue on each side: ZeroMQ's default high-water mark. */
const RAW_ZMQ_HIGH_WATER_MARK = 1000;

/**
 * Raw ZeroMQ: Push → Pull over ipc in one process, one hop, no encoding. Its rate, the rate over its
 * second half (past its warm-up), and its CPU per message (both ends, ZeroMQ's I/O threads included).
 */
async function rawZmq(count: number, payload: Buffer): Promise<Rate & { readonly secondHalfPerSecond: number }> {
  const cpuBefore = process.cpuUsage();
  const socketPath = join(tmpdir(), `vf-bench-${process.pid}`);
  const address = `ipc://${socketPath}`;
  const pull = new zmq.Pull({ receiveHighWaterMark: RAW_ZMQ_HIGH_WATER_MARK });
  await pull.bind(address);
  const push = new zmq.Push({ sendHighWaterMark: RAW_ZMQ_HIGH_WATER_MARK });
  push.connect(address);
  const header = Buffer.from('h');
  const receiving = (async (): Promise<{ perSecond: number; secondHalfPerSecond: number }> => {
    let received = 0;
    let started = 0;
    let half = 0;
    const halfway = Math.floor(count / 2);
    for await (const _ of pull) {
      if (received === 0) started = performance.now();
      received += 1;
      if (received === halfway) half = performance.now();
      if (received === count) {
        return {
          perSecond: (count - 1) / ((performance.now() - started) / 1000),
          secondHalfPerSecond: (count - halfway) / ((performance.now() - half) / 1000),
        };
      }
    }
    return { perSecond: 0, secondHalfPerSecond: 0 };
  })();
  for (let index = 0; index < count; index++) await push.send([header, payload]);
  const rates = await receiving;
  const cpu = process.cpuUsage(cpuBefore);
  push.close();
  pull.close();
  rmSync(socketPath, { force: true });
  return { ...rates, cpuMsPerItem: (cpu.user + cpu.system) / 1000 / count };
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
async function flowRate(
  params: { count: number; payload: 'small' | 'frame'; identities: number; nbTasks: number },
  url = flowUrl,
  sharedMemory = true,
  queueSize = Number(process.env.VF_BENCH_QUEUE ?? 16),
) {
  const out = join(tmpdir(), `vf-bench-${process.pid}-${Date.now()}.json`);
  const flow = await Flow.load(url, { ...params, out });
  const cpuBefore = childrenCpuMs();
  const runAt = Date.now();
  await flow.run(new BatchExecutionEngine({ queueSize, sharedMemory }));
  const report = await flow.join();
  if (report.status !== 'completed') throw new Error(`benchmark flow ${report.status}: ${report.error?.message}`);
  const timing = JSON.parse(readFileSync(out, 'utf8')) as { first: number; half: number; last: number; count: number; marks: number[] };
  const first = Number(readFileSync(`${out}.first`, 'utf8'));
  rmSync(out, { force: true });
  rmSync(`${out}.first`, { force: true });
  if (timing.count !== params.count) throw new Error(`lost items: ${timing.count} of ${params.count}`);
  return {
    perSecond: (timing.count - 1) / ((timing.last - timing.first) / 1000),
    /** Past the warm-up: the rate over the second half of the items. */
    secondHalfPerSecond: (timing.count - Math.floor(timing.count / 2)) / ((timing.last - timing.half) / 1000),
    firstAfterMs: first - runAt,
    /** Rates over each {@link MARK_EVERY} items in turn, from the first: the warm-up curve. */
    sliceRates: timing.marks.slice(1).map((mark, index) => MARK_EVERY / ((mark - (timing.marks[index] as number)) / 1000)),
    /** CPU ms per item, every task together (start-up included). */
    cpuMsPerItem: (childrenCpuMs() - cpuBefore) / params.count,
  };
}

function line(result: Result, baselines: ReadonlyArray<[string, number]>): string {
  const mbs = (result.perSecond * result.bytes) / 1e6;
  const ratios = baselines.map(([name, rate]) => `${(result.perSecond / rate).toFixed(2)}× ${name}`).join(', ');
  return `${result.name.padEnd(52)} ${Math.round(result.perSecond).toLocaleString('en').padStart(9)} msg/s ${mbs.toFixed(0).padStart(6)} MB/s   ${ratios}`;
}

console.log(`vf bench — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, scale ${scale}`);
if (cases.has('transport')) await transport();
else if (cases.has('frames')) await frames();
if (cases.has('latency')) await latency();
if (cases.has('startup')) await startup();
if (cases.has('scaleout')) await scaleout();
if (cases.has('overload')) await overload();
if (cases.has('soak')) await soak();
if (cases.has('memory')) await memory();
if (cases.has('redispatch')) await redispatch();
if (cases.has('onerror')) await onError();

async function transport(): Promise<void> {
  const smallCount = Math.round(100_000 * scale);
  if (runsRow('small')) {
    const small = { count: smallCount, payload: 'small', identities: 1, nbTasks: 1 } as const;
    const runs = await interleaved({
      raw: () => rawZmq(smallCount, encodeValue(SMALL)[0] as Buffer),
      rings: () => flowRate(small),
      // The same with every envelope on ZeroMQ (no shared rings): what the rings bring, in this run.
      zmqOnly: () => withEnv({ VF_SHARED_RING: '0' }, () => flowRate(small)),
      // The same with as deep a queue as the baseline's (ZeroMQ's default high-water mark, on each side).
      deepQueue: () => flowRate(small, flowUrl, true, RAW_ZMQ_HIGH_WATER_MARK),
    });
    console.log(
      `small messages: ${repeats} runs of each row, interleaved; rates are medians, ratios the median of each run's ratio (range)`,
    );
    console.log(pairedLine('baseline: raw zeromq ipc, one hop, small', runs.raw, SMALL_BYTES, []));
    console.log(
      pairedLine(`batch: producer→identity→consumer, ${smallCount} small`, runs.rings, SMALL_BYTES, [['raw zmq', runs.raw]]),
      `  (${(median(runs.rings.map((run) => run.cpuMsPerItem)) * 1000).toFixed(1)} µs CPU/msg, all tasks)`,
    );
    // The first messages run cold (each task's code is compiled as it goes, on the cores the tasks
    // share, and wake-ups find little to batch): the second half of the same runs, against the second
    // half of the baseline's.
    const secondHalf = (rates: ReadonlyArray<{ secondHalfPerSecond: number; cpuMsPerItem: number }>) =>
      rates.map((rate) => ({ perSecond: rate.secondHalfPerSecond, cpuMsPerItem: rate.cpuMsPerItem }));
    console.log(
      pairedLine('  same runs, second half only (past the warm-up)', secondHalf(runs.rings), SMALL_BYTES, [
        ['raw zmq (its second half)', secondHalf(runs.raw)],
      ]),
    );
    // The warm-up, slice by slice: where the whole run's rate and its second half's part ways.
    const slices = Math.min(...runs.rings.map((run) => run.sliceRates.length));
    const curve = Array.from({ length: slices }, (_, slice) => median(runs.rings.map((run) => run.sliceRates[slice] as number)));
    if (slices > 0) {
      console.log(
        `  same runs, msg/s by ${MARK_EVERY.toLocaleString('en')}-message slice (medians): ${curve.map((rate) => `${(rate / 1000).toFixed(0)}k`).join(' ')}`,
      );
    }
    console.log(
      pairedLine('  same, rings off (every envelope on ZeroMQ)', runs.zmqOnly, SMALL_BYTES, [['raw zmq', runs.raw]]),
      `  (${(median(runs.zmqOnly.map((run) => run.cpuMsPerItem)) * 1000).toFixed(1)} µs CPU/msg; rings: ${pairedRatio(runs.rings, runs.zmqOnly)})`,
    );
    console.log(
      pairedLine(`  same, queueSize ${RAW_ZMQ_HIGH_WATER_MARK.toLocaleString('en')} (the baseline's depth)`, runs.deepQueue, SMALL_BYTES, [
        ['raw zmq', runs.raw],
      ]),
      `  (second half ${pairedRatio(secondHalf(runs.deepQueue), secondHalf(runs.raw))})`,
    );
  }
  if (runsRow('frames')) await frames();
}

/** A rate, with the CPU it cost per item (ms, every process together). */
interface Rate {
  readonly perSecond: number;
  readonly cpuMsPerItem: number;
}

/**
 * Runs each row {@link repeats} times, the rows interleaved (all of them once, then again), so that
 * a machine whose speed drifts (a VM's neighbours, its host) weighs on every row alike: the ratio of
 * two rows is then taken within each round, not between a fast minute and a slow one.
 */
async function interleaved<Rows extends Record<string, () => Promise<unknown>>>(
  rows: Rows,
): Promise<{ [Row in keyof Rows]: Array<Awaited<ReturnType<Rows[Row]>>> }> {
  const results: Record<string, unknown[]> = Object.fromEntries(Object.keys(rows).map((name) => [name, []]));
  for (let round = 0; round < repeats; round++) {
    for (const [name, row] of Object.entries(rows)) results[name]?.push(await row());
  }
  return results as { [Row in keyof Rows]: Array<Awaited<ReturnType<Rows[Row]>>> };
}

/** The median over rounds of `rows[i] / baselines[i]`, with its range. */
function pairedRatio(rows: readonly Rate[], baselines: readonly Rate[]): string {
  const ratios = rows.map((row, round) => row.perSecond / (baselines[round]?.perSecond ?? Number.NaN));
  const range = ratios.length > 1 ? ` (${rangeOf(ratios, 2)})` : '';
  return `${median(ratios).toFixed(2)}×${range}`;
}

/** `min–max` of `values`, each with `digits` decimals. */
function rangeOf(values: readonly number[], digits: number): string {
  return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
}

/** {@link line} for a row run in rounds: its median rate, and its median ratio to each baseline's run of the same round. */
function pairedLine(name: string, runs: readonly Rate[], bytes: number, baselines: ReadonlyArray<[string, readonly Rate[]]>): string {
  const perSecond = median(runs.map((run) => run.perSecond));
  const ratios = baselines.map(([baseline, rates]) => `${pairedRatio(runs, rates)} ${baseline}`).join(', ');
  return `${line({ name, perSecond, bytes }, [])}${ratios}`;
}

/** Runs `run` with `env` set in this process (tasks inherit it), then restores what was there. */
async function withEnv<T>(env: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    return await run();
  } finally {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
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

/**
 * The floor of a hop for any Node.js program on this machine: `hops` bare `node` processes in a
 * chain, each copying its stdin to its stdout (pipes between them, no vf, no ZeroMQ), woken once
 * per item; `count` 8-byte stamps paced at `fps` go through, back to this process. The median in ms.
 */
async function bareNodeChainLatency(hops: number, count: number, fps: number): Promise<number> {
  const relay = "process.stdin.on('data', (bytes) => process.stdout.write(bytes))";
  const chain: ChildProcess[] = [];
  for (let index = 0; index < hops; index++) {
    const upstream = chain[index - 1]?.stdout ?? 'pipe';
    chain.push(spawn(process.execPath, ['-e', relay], { stdio: [upstream, 'pipe', 'inherit'] }));
  }
  const first = chain[0]?.stdin as Writable;
  const last = chain[hops - 1]?.stdout as Readable;
  try {
    let echo: ((bytes: Buffer) => void) | undefined;
    last.on('data', (bytes: Buffer) => echo?.(bytes));
    const latencies: number[] = [];
    for (let index = 0; index < count; index++) {
      const stamp = Buffer.alloc(8);
      let timer: NodeJS.Timeout | undefined;
      const echoed = new Promise<Buffer>((resolve, reject) => {
        echo = resolve;
        timer = setTimeout(() => reject(new Error(`bare node chain of ${hops}: no echo within 10 s`)), 10_000);
      });
      stamp.writeDoubleLE(performance.now());
      first.write(stamp);
      const bytes = await echoed.finally(() => clearTimeout(timer));
      latencies.push(performance.now() - bytes.readDoubleLE(0));
      await new Promise((resolve) => setTimeout(resolve, 1000 / fps));
    }
    return percentile(
      latencies.sort((a, b) => a - b),
      50,
    );
  } finally {
    for (const child of chain) child.kill();
  }
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
 * ZeroMQ hop measured the same way and a chain of bare node processes. Then the same chains with
 * `VF_EAGER_OPTIMIZATION=1`. One run of a slope moved by ±25 % on the bench VM, so the three run
 * in {@link latencyRounds} interleaved rounds; each row is the median slope, with its range. Last,
 * once, the steady state: 1 and 8 hops after 3,000 items at the same pace.
 */
async function latency(): Promise<void> {
  const count = Math.max(50, Math.round(250 * scale));
  const fps = 50;
  const raw = await rawZmqLatency(count, fps);
  console.log(
    `\nper-hop latency (E3): ${count} items at ${fps}/s through chains of identity hops, batch engine (median ms); ${latencyRounds} rounds, interleaved`,
  );
  const chains = [1, 2, 4, 8];
  const slopes: number[] = [];
  const eagerSlopes: number[] = [];
  const bareSlopes: number[] = [];
  for (let round = 0; round < latencyRounds; round++) {
    slopes.push(slope(chains, await chainMedians(chains, count, fps, round === 0)));
    const bareMedians: number[] = [];
    for (const hops of chains) bareMedians.push(await bareNodeChainLatency(hops, count, fps));
    bareSlopes.push(slope(chains, bareMedians));
    if (round === 0) {
      console.log(
        `  bare node processes (stdin to stdout, no vf): ${chains.map((hops, index) => `${hops} hops ${bareMedians[index]?.toFixed(3)}`).join(', ')} ms`,
      );
    }
    // The opt-in for long-running paced flows (core's runtime/tiering.ts): tasks inherit the variable.
    process.env.VF_EAGER_OPTIMIZATION = '1';
    try {
      eagerSlopes.push(slope(chains, await chainMedians(chains, count, fps, false)));
    } finally {
      delete process.env.VF_EAGER_OPTIMIZATION;
    }
  }
  const barePerHop = median(bareSlopes);
  const bareRange = latencyRounds > 1 ? `, range ${rangeOf(bareSlopes, 3)}` : '';
  const row = (label: string, values: readonly number[]) => {
    const ms = median(values);
    console.log(
      `${label.padEnd(52)} ${ms.toFixed(3).padStart(9)} ms/hop${values.length > 1 ? ` (range ${rangeOf(values, 3)})` : ''}   ${(ms / raw).toFixed(2)}× raw zmq one hop (${raw.toFixed(3)} ms), ${(ms / barePerHop).toFixed(2)}× a bare node hop (${barePerHop.toFixed(3)} ms${bareRange})`,
    );
  };
  row('batch: per-hop latency, fitted slope', slopes);
  row('  same, VF_EAGER_OPTIMIZATION=1', eagerSlopes);
  // 250 items at 50/s are a flow's first 5 s, which V8 runs unoptimized (TurboFan takes over a relay's
  // path over its first ~2,000 items at this pace): the same chains once a long-running flow is past it.
  const warmup = Math.round(3000 * scale);
  const warmChains = [1, 8];
  row(`  same, after ${warmup.toLocaleString('en')} items at ${fps}/s (${Math.round(warmup / fps)} s)`, [
    slope(warmChains, await chainMedians(warmChains, count, fps, false, warmup)),
  ]);
}

/**
 * The median latency through each chain of `chains` identity hops; `print`: each chain's p50 and p95.
 * `warmup` items go through first, at the same pace, unrecorded.
 */
async function chainMedians(chains: readonly number[], count: number, fps: number, print: boolean, warmup = 0): Promise<number[]> {
  const medians: number[] = [];
  for (const hops of chains) {
    const out = join(tmpdir(), `vf-bench-latency-${process.pid}-${hops}.json`);
    const flow = await Flow.load(latencyUrl, { count, warmup, fps, hops, out });
    await flow.run(new BatchExecutionEngine());
    const report = await flow.join();
    if (report.status !== 'completed') throw new Error(`latency flow (${hops} hops) ${report.status}: ${report.error?.message}`);
    const { latenciesMs } = JSON.parse(readFileSync(out, 'utf8')) as { latenciesMs: number[] };
    rmSync(out, { force: true });
    if (latenciesMs.length !== count) throw new Error(`lost items: ${latenciesMs.length} of ${count}`);
    const sorted = [...latenciesMs].sort((a, b) => a - b);
    medians.push(percentile(sorted, 50));
    if (print) {
      console.log(
        `  ${String(hops).padStart(2)} hops: p50 ${percentile(sorted, 50).toFixed(3)} ms, p95 ${percentile(sorted, 95).toFixed(3)} ms`,
      );
    }
  }
  return medians;
}

/** The middle value (upper middle for an even count). */
function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
}

/**
 * Start-up: `flow.run()` → first consumed message of a 5-task flow (source → 3 identities → sink),
 * median of 5 runs, for the TypeScript flow module and for the same module built to JavaScript;
 * baseline: a bare `node -e 0` in this run.
 */
async function startup(): Promise<void> {
  const runs = 5;
  const bareNode = (env: NodeJS.ProcessEnv = process.env) =>
    median(
      Array.from({ length: runs }, () => {
        const started = performance.now();
        spawnSync(process.execPath, ['-e', '0'], { env });
        return performance.now() - started;
      }),
    );
  const bare = bareNode();
  console.log(
    `\nstart-up: flow.run() → first consumed message, 5-task flow, median of ${runs} (baseline: bare \`node -e 0\` ${bare.toFixed(0)} ms)`,
  );
  /** The times of `count` runs of the flow at `url` in this host. */
  const timeRuns = async (url: URL, count = runs) => {
    const times: number[] = [];
    for (let run = 0; run < count; run++) {
      times.push((await flowRate({ count: 10, payload: 'small', identities: 3, nbTasks: 1 }, url)).firstAfterMs);
    }
    return times;
  };
  const row = (name: string, times: readonly number[], baseline = bare) =>
    console.log(
      `${name.padEnd(52)} ${median(times).toFixed(0).padStart(6)} ms  (${(median(times) / baseline).toFixed(1)}× bare node; runs ${times.map((t) => t.toFixed(0)).join(', ')})`,
    );
  // Each in a host process of its own: the first run of a host compiles the task program; later runs
  // of the same flow in that host reuse it (the rows below, whose host ran this flow before).
  const startupHost = fileURLToPath(new URL('./startupHost.mjs', import.meta.url));
  /** The times of `hostRuns` runs of the flow at `url` in one new host process (from source unless `fromSource` is false). */
  const timesInHost = (url: URL, hostRuns: number, env: NodeJS.ProcessEnv = process.env, fromSource = true) =>
    execFileSync(process.execPath, [...(fromSource ? process.execArgv : []), startupHost, url.href, String(hostRuns)], {
      encoding: 'utf8',
      env,
    })
      .trim()
      .split(',')
      .map(Number);
  // A fresh host takes the program an earlier host compiled from the on-disk cache (VF_TASK_PROGRAM_CACHE).
  const cache = mkdtempSync(join(tmpdir(), 'vf-bench-program-cache-'));
  const freshHost = (cacheSetting: string) => timesInHost(flowUrl, 1, { ...process.env, VF_TASK_PROGRAM_CACHE: cacheSetting })[0] as number;
  try {
    row(
      'batch: TypeScript flow, 3 fresh hosts, no program cache',
      Array.from({ length: 3 }, () => freshHost('off')),
    );
    freshHost(cache); // fills the cache
    row(
      'batch: TypeScript flow, 3 fresh hosts, program cached',
      Array.from({ length: 3 }, () => freshHost(cache)),
    );
    // A user's edit-and-run loop: the flow changed since the last host ran it (vf's part of the program cached).
    const edited = new URL(`./flows/.throughput-edited-${process.pid}.ts`, import.meta.url);
    try {
      writeFileSync(edited, readFileSync(flowUrl, 'utf8'));
      timesInHost(edited, 1, { ...process.env, VF_TASK_PROGRAM_CACHE: cache });
      row(
        'batch: TypeScript flow, 3 hosts, each after an edit',
        Array.from({ length: 3 }, (_, edit) => {
          writeFileSync(edited, `${readFileSync(edited, 'utf8')}export const edit${edit} = ${edit};\n`);
          return timesInHost(edited, 1, { ...process.env, VF_TASK_PROGRAM_CACHE: cache })[0] as number;
        }),
      );
    } finally {
      rmSync(edited, { force: true });
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  row('batch: TypeScript flow module', await timeRuns(flowUrl));
  if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
    // Node parses that CA bundle in every process it starts (Node 20: eagerly, ~65 ms of CPU each for
    // Debian's 220 KB bundle under perf), tasks included: the same host run without it.
    const { NODE_EXTRA_CA_CERTS: _, ...withoutCa } = process.env;
    const bareWithoutCa = bareNode(withoutCa);
    // The first run of that host compiles the program (or takes it from the cache): not a later run.
    const times = timesInHost(flowUrl, runs + 1, withoutCa).slice(1);
    row(`batch: same, no NODE_EXTRA_CA_CERTS (bare ${bareWithoutCa.toFixed(0)} ms)`, times, bareWithoutCa);
  }
  // The same module as a build step leaves it: plain JavaScript beside the source (so that its imports resolve).
  const builtUrl = new URL('./flows/.throughput.built.mjs', import.meta.url);
  const ts = await import('typescript');
  writeFileSync(
    builtUrl,
    ts.transpileModule(readFileSync(flowUrl, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
      .outputText,
  );
  try {
    // A new module: this host's first run of it builds its program (or takes it from the cache): not a later run.
    row('batch: flow module built to JavaScript', (await timeRuns(builtUrl, runs + 1)).slice(1));
    // vf itself built too (dist/, `pnpm build`): the installed case, in a host without the source condition.
    const built = ['core', 'engine-batch'].every((name) => existsSync(new URL(`../packages/${name}/dist/index.js`, import.meta.url)));
    if (built) {
      // A fresh host, whose first run builds the program from dist/ (or takes it from the cache): not a later run.
      row('batch: built vf (dist) + flow built to JavaScript', timesInHost(builtUrl, runs + 1, process.env, false).slice(1));
      // What a user of an installed vf waits for on the first run after each edit of the flow: the program compiled anew.
      row(
        'batch: same, 3 fresh hosts, no program cache',
        Array.from({ length: 3 }, () => timesInHost(builtUrl, 1, { ...process.env, VF_TASK_PROGRAM_CACHE: 'off' }, false)[0] as number),
      );
    } else console.log('batch: built vf (dist) + flow built to JavaScript      (skipped: run `pnpm build` first)');
  } finally {
    rmSync(builtUrl, { force: true });
  }
}

/**
 * Scale-out (Videoflow 2026 white paper, E2): producer → a stage sleeping 20 ms per item with
 * `nbTasks` 1, 2, 4, 8 → sink, 240 items; time from the producer's start to the last item at the
 * sink, and the speedup over one replica in the same round (ideal: n×; goal ≥ 7.6× at 8). One run
 * at 8 replicas (~0.65 s) moved by ±2 % between runs on the bench VM, so the counts run in
 * {@link scaleoutRounds} interleaved rounds; each row is the median, with the speedups' range.
 */
async function scaleout(): Promise<void> {
  const count = Math.max(48, Math.round(240 * scale));
  const workMs = 20;
  const counts = [1, 2, 4, 8];
  console.log(`\nscale-out (E2): ${count} items → ${workMs} ms stage × nbTasks → sink, batch; ${scaleoutRounds} rounds, interleaved`);
  const seconds = counts.map((): number[] => []);
  for (let round = 0; round < scaleoutRounds; round++) {
    for (const [index, nbTasks] of counts.entries()) seconds[index]?.push(await scaleoutSeconds(count, workMs, nbTasks));
  }
  const single = seconds[0] ?? [];
  for (const [index, nbTasks] of counts.entries()) {
    const times = seconds[index] ?? [];
    const speedups = times.map((time, round) => (single[round] ?? Number.NaN) / time);
    const speedup = median(speedups);
    const range = speedups.length > 1 ? ` (${rangeOf(speedups, 2)})` : '';
    console.log(
      `nbTasks ${String(nbTasks).padEnd(3)} ${median(times).toFixed(2).padStart(6)} s  ${(count / median(times)).toFixed(0).padStart(5)} items/s  speedup ${speedup.toFixed(2)}×${range} (ideal ${nbTasks}×, ${((speedup / nbTasks) * 100).toFixed(0)} %)`,
    );
  }
}

/** One run of the scale-out flow: seconds from the producer's start to the last item at the sink. */
async function scaleoutSeconds(count: number, workMs: number, nbTasks: number): Promise<number> {
  const out = join(tmpdir(), `vf-bench-scaleout-${process.pid}-${nbTasks}.json`);
  try {
    const flow = await Flow.load(scaleoutUrl, { count, workMs, nbTasks, out });
    await flow.run(new BatchExecutionEngine());
    const report = await flow.join();
    if (report.status !== 'completed') throw new Error(`scale-out flow ${report.status}: ${report.error?.message}`);
    const { count: received, last } = JSON.parse(readFileSync(out, 'utf8')) as { count: number; last: number };
    const start = Number(readFileSync(`${out}.start`, 'utf8'));
    if (received !== count) throw new Error(`scale-out lost items: ${received} of ${count}`);
    return (last - start) / 1000;
  } finally {
    rmSync(out, { force: true });
    rmSync(`${out}.start`, { force: true });
  }
}

/**
 * The frame rows: the 3-task chain with frames through shared memory (the default) and inline on
 * ZeroMQ (`sharedMemory: false`), `nbTasks: 2`, and what one frame costs on the shared-memory path.
 */
async function frames(): Promise<void> {
  const frameCount = Math.round(300 * scale);
  const frame = Buffer.alloc(FRAME_BYTES, 7);
  const chain = { count: frameCount, payload: 'frame', identities: 1 } as const;
  const runs = await interleaved({
    raw: () => rawZmq(frameCount, frame),
    copy: async () => ({ perSecond: bufferCopy(frameCount), cpuMsPerItem: Number.NaN }),
    shared: () => withSharedStats(() => flowRate({ ...chain, nbTasks: 1 })),
    inline: () => flowRate({ ...chain, nbTasks: 1 }, flowUrl, false),
    replicated: () => withSharedStats(() => flowRate({ ...chain, nbTasks: 2 })),
  });
  const sharedCost = await sharedFrameCost(frameCount);
  const forwardCost = await sharedFrameCost(frameCount, true);
  const rawFrames = median(runs.raw.map((run) => run.perSecond));
  const copyFrames = median(runs.copy.map((run) => run.perSecond));
  console.log(`1080p frames: ${repeats} runs of each row, interleaved; rates are medians, ratios the median of each run's ratio (range)`);
  console.log(pairedLine('baseline: raw zeromq ipc, one hop, 1080p frame', runs.raw, FRAME_BYTES, []));
  console.log(pairedLine('baseline: Buffer.copy, 1080p frame', runs.copy, FRAME_BYTES, []));
  console.log(
    `${line({ name: 'shared memory, one frame sent + received', perSecond: 1000 / sharedCost, bytes: FRAME_BYTES }, [
      ['raw zmq', rawFrames],
      ['Buffer.copy', copyFrames],
    ])}   (${sharedCost.toFixed(2)} ms/frame, ${nativeSharedMemory() === null ? '2 copies: written, read' : '1 copy: into a pooled segment, then mapped'})`,
  );
  console.log(
    `${line({ name: 'shared memory, one frame forwarded unwritten', perSecond: 1000 / forwardCost, bytes: FRAME_BYTES }, [
      ['raw zmq', rawFrames],
      ['Buffer.copy', copyFrames],
    ])}   (${forwardCost.toFixed(2)} ms/frame, ${nativeSharedMemory() === null ? '2 copies: written, read' : '0 copies: linked, then mapped'})`,
  );
  const shared = runs.shared.map((run) => run.result);
  const replicated = runs.replicated.map((run) => run.result);
  const baselines: Array<[string, readonly Rate[]]> = [
    ['raw zmq', runs.raw],
    ['Buffer.copy', runs.copy],
  ];
  const made = (rounds: ReadonlyArray<{ segmentsMade: number }>) => rounds.map((round) => round.segmentsMade).join(', ');
  console.log(pairedLine(`batch: producer→identity→consumer, ${frameCount} frames`, shared, FRAME_BYTES, baselines));
  console.log(`  shared memory per sending task (first run): ${runs.shared[0]?.stats}; segments made per run: ${made(runs.shared)}`);
  console.log(pairedLine('batch: same, sharedMemory: false (inline ZeroMQ)', runs.inline, FRAME_BYTES, baselines));
  console.log(pairedLine('batch: frames, identity nbTasks: 2', replicated, FRAME_BYTES, baselines));
  console.log(
    `  shared memory per sending task (first run): ${runs.replicated[0]?.stats}; segments made per run: ${made(runs.replicated)}`,
  );
  // Rates on a loaded machine say more about the load than about vf; CPU time per frame does not.
  // A short run of each gives the fixed cost (start-up), so what remains is the cost of a frame.
  const few = 10;
  const perFrame = async (full: readonly Rate[], nbTasks: number, sharedMemory: boolean) => {
    const short = await flowRate({ ...chain, count: few, nbTasks }, flowUrl, sharedMemory);
    return (median(full.map((run) => run.cpuMsPerItem)) * frameCount - short.cpuMsPerItem * few) / (frameCount - few);
  };
  const rawFramesCpuMs = median(runs.raw.map((run) => run.cpuMsPerItem));
  const cpu = (name: string, ms: number) => `${name} ${ms.toFixed(1)} ms (${(ms / rawFramesCpuMs).toFixed(2)}× raw zmq)`;
  console.log(
    `CPU per frame, all processes, start-up excluded (medians): raw zmq one hop ${rawFramesCpuMs.toFixed(1)} ms; chain: ${cpu('shared memory', await perFrame(shared, 1, true))}, ${cpu('inline', await perFrame(runs.inline, 1, false))}, ${cpu('nbTasks 2', await perFrame(replicated, 2, true))}`,
  );
}

/**
 * Runs `run` with `VF_SHARED_STATS` set, so each task appends its shared-memory sender's counts
 * when it closes; returns its result and those counts per task: frames copied, forwarded (linked,
 * no copy), the pool's hit rate (copies into a free segment, whose pages are already allocated) and
 * how many of its segments it mapped (the others it wrote with `pwrite`).
 */
async function withSharedStats<T>(run: () => Promise<T>): Promise<{ result: T; stats: string; segmentsMade: number }> {
  const file = join(tmpdir(), `vf-bench-shared-stats-${process.pid}-${Date.now()}.jsonl`);
  try {
    const result = await withEnv({ [SHARED_STATS_ENV]: file }, run);
    const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    const parsedLines = lines.map((text) => JSON.parse(text) as SharedFrameStats & { label: string });
    const segmentsMade = parsedLines.reduce((sum, parsed) => sum + parsed.poolMisses, 0);
    const stats = parsedLines
      .filter(({ copied, forwarded, inline }) => copied + forwarded + inline > 0)
      .map((parsed) => {
        const { label, copied, forwarded, inline, poolHits, poolMisses, segmentsMapped } = parsed;
        const hitRate =
          poolHits + poolMisses === 0
            ? 'no copies'
            : `pool hits ${((100 * poolHits) / (poolHits + poolMisses)).toFixed(0)} % (${poolMisses} segments made, ${segmentsMapped} mapped)`;
        return `${label}: ${copied} copied, ${forwarded} forwarded, ${inline} inline, ${hitRate}`;
      })
      .join('; ');
    return { result, stats, segmentsMade };
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * Milliseconds per 1080p frame on the shared-memory path, in one process, as a task does it: the
 * sender copies the frame into a pool segment and links it, the receiver maps the link (or reads
 * it without the native helper); the event loop turns between frames, so collected mappings free
 * their segments for reuse.
 */
async function sharedFrameCost(count: number, forwarded = false): Promise<number> {
  const directory = createSharedDirectory();
  if (directory === undefined) return Number.NaN;
  try {
    const sender = new SharedFrameSender(directory);
    const reader = new SharedFrameReader(directory);
    // With `forwarded`, what is timed is the hop after: the mapped frame sent on unwritten (a link), then mapped.
    const forwarder = new SharedFrameSender(directory, { received: reader });
    const header = packDataHeader({ seq: 0, ticket: 0, taskIndex: 0, proctimeMs: 0, actualProctimeMs: 0, createdAt: 0 }, 2);
    const frame = Buffer.alloc(FRAME_BYTES, 7);
    const hop = (sending: SharedFrameSender, payload: Buffer) => {
      const sent = sending.outgoing([header, Buffer.alloc(1), payload], 0);
      const [reference] = parseDataHeader(sent[0] as Buffer).shared as Array<[number, string, number]>;
      return reader.read(reference?.[1], reference?.[2]);
    };
    let elapsed = 0;
    for (let index = 0; index < count; index++) {
      const payload = forwarded ? hop(sender, frame) : frame;
      const started = performance.now();
      hop(forwarded ? forwarder : sender, payload);
      elapsed += performance.now() - started;
      await new Promise((resolve) => setImmediate(resolve));
    }
    sender.close();
    return elapsed / count;
  } finally {
    removeSharedDirectory(directory);
  }
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
  const rawSmall = (await rawZmq(Math.min(count, 200_000), encodeValue(SMALL)[0] as Buffer)).perSecond;
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
 * Resident memory of process `pid` in MB (Linux `/proc`): all of it, and its own (all but the
 * shared-memory pages it maps: a frame pool's segments, which exist whether mapped or not); or
 * undefined once it is gone.
 */
function rssMb(pid: number): { all: number; own: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
    const all = kb('VmRSS');
    return Number.isNaN(all) ? undefined : { all: all / 1024, own: (all - (kb('RssShmem') || 0)) / 1024 };
  } catch {
    return undefined;
  }
}

/**
 * Runs a flow while sampling every task's RSS every 10 ms; prints per task the peak RSS over the
 * first, the middle and the last tenth of the time items flowed (from the first item to the end;
 * items flow at a steady rate, so a leak grows across the tenths), up to the last sample at which
 * every task was still alive. By time, not by the processed count: that is reported every 250 ms,
 * too coarse for a run of half a second (300 frames). The first item is seen by `firstItemFile`
 * (the flow's sink writes it) where the flow has one, else by `progressNode`'s first processed
 * count: a 300-frame run waited up to 250 ms for that count and kept 4 samples, none of its start.
 */
async function rssOverRun(
  url: URL,
  params: Record<string, unknown>,
  progressNode: string,
  count: number,
  title: string,
  firstItemFile?: string,
): Promise<void> {
  const flow = await Flow.load(url, params);
  const engine = new BatchExecutionEngine({ queueSize: 16 });
  await flow.run(engine);
  const labels = engine.taskProgress().map((task) => `${task.nodeName}[${task.taskIndex}]`);
  const samples: Array<{ at: number; rss: Array<{ all: number; own: number } | undefined> }> = [];
  const flowing = () =>
    (firstItemFile !== undefined && existsSync(firstItemFile)) ||
    (flow.liveStats()?.nodes.find((node) => node.name === progressNode)?.processed ?? 0) > 0;
  const timer = setInterval(() => {
    if (samples.length > 0 || flowing())
      samples.push({ at: performance.now(), rss: engine.pids.map((pid) => (pid === undefined ? undefined : rssMb(pid))) });
  }, 10);
  const report = await flow.join();
  clearInterval(timer);
  if (report.status !== 'completed') throw new Error(`${title} flow ${report.status}: ${report.error?.message}`);
  if ((report.nodes.find((node) => node.name === progressNode)?.received ?? 0) !== count) throw new Error(`${title}: items lost`);
  console.log(`${title}: peak RSS per task over the first, middle and last tenth of the run's items flowing (${samples.length} samples)`);
  const first = samples[0]?.at ?? 0;
  // Up to the last sample with every task alive: a task that ends first (the sink) left no RSS behind.
  const lastAlive = samples.findLast((sample) => sample.rss.every((rss) => rss !== undefined)) ?? samples.at(-1);
  const span = Math.max(1, (lastAlive?.at ?? first) - first);
  labels.forEach((label, index) => {
    const peak = (from: number, to: number, part: 'all' | 'own') =>
      Math.max(
        ...samples
          .filter((sample) => (sample.at - first) / span >= from && (sample.at - first) / span <= to)
          .map((sample) => sample.rss[index]?.[part] ?? 0),
      );
    const tenths = (part: 'all' | 'own') => [peak(0, 0.1, part), peak(0.45, 0.55, part), peak(0.9, 1, part)] as const;
    const [start, middle, end] = tenths('all');
    // Shared memory mapped (a frame pool reused; more than its rings): the own memory apart, which a leak would grow.
    const [ownStart, ownMiddle, ownEnd] = tenths('own');
    const own =
      end - ownEnd > 4
        ? `; without shared memory ${ownStart.toFixed(1)} → ${ownMiddle.toFixed(1)} → ${ownEnd.toFixed(1)} MB (${(ownEnd / ownStart).toFixed(2)}×)`
        : '';
    console.log(
      `  ${label.padEnd(14)} ${start.toFixed(1).padStart(7)} → ${middle.toFixed(1).padStart(7)} → ${end.toFixed(1).padStart(7)} MB  (end ${(end / start).toFixed(2)}× start${own})`,
    );
  });
}

/**
 * Memory: each task's RSS over the soak (1,000,000 small messages) and over 300 1080p frames; for a
 * task that maps more shared memory than its rings (the frame source reusing its pool's segments),
 * also without the shared pages, which a leak would grow and a pool's reuse does not.
 */
async function memory(): Promise<void> {
  const count = Math.round(1_000_000 * scale);
  const frames = Math.round(300 * scale);
  console.log('\nmemory');
  const soakOut = join(tmpdir(), `vf-bench-memory-${process.pid}.json`);
  await rssOverRun(soakUrl, { count, nbTasks: 1, workMs: 0, out: soakOut }, 'checker', count, `soak, ${count.toLocaleString('en')} small`);
  rmSync(soakOut, { force: true });
  const framesOut = join(tmpdir(), `vf-bench-memory-frames-${process.pid}.json`);
  await rssOverRun(
    flowUrl,
    { count: frames, payload: 'frame', identities: 1, nbTasks: 1, out: framesOut },
    'timer',
    frames,
    `${frames} 1080p frames`,
    `${framesOut}.first`,
  );
  rmSync(framesOut, { force: true });
  rmSync(`${framesOut}.first`, { force: true });
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

/**
 * Per-item errors (issue 18): 10,000 items through one processor that throws on every 100th item
 * (`{ retries: 2, deadLetter }`), or once on every item (`{ retries: 1 }`), against the same flow
 * without failures, on the batch engine and in process. Time from `run()` to `join()`.
 */
async function onError(): Promise<void> {
  const count = Math.round(10_000 * scale);
  const onErrorUrl = new URL('./flows/onError.ts', import.meta.url);
  console.log(`\nonerror: ${count} items → faulty → sink; time from run() to join()`);
  const engines = [
    ['batch', () => new BatchExecutionEngine()],
    ['in process', () => new InProcessEngine()],
  ] as const;
  for (const [engineName, createEngine] of engines) {
    const time = async (fault: string, onErrorOption: unknown) => {
      const deadLetter = join(tmpdir(), `vf-bench-dead-${process.pid}-${Date.now()}`);
      const option = typeof onErrorOption === 'object' && onErrorOption !== null ? { ...onErrorOption, deadLetter } : onErrorOption;
      const flow = await Flow.load(onErrorUrl, { count, fault, onError: option as never });
      const startedAt = performance.now();
      await flow.run(createEngine());
      const report = await flow.join();
      const elapsedMs = performance.now() - startedAt;
      rmSync(deadLetter, { recursive: true, force: true });
      if (report.status !== 'completed') throw new Error(`onerror flow ${report.status}: ${report.error?.message}`);
      return { elapsedMs, faulty: report.nodes.find((node) => node.name === 'faulty') };
    };
    await time('none', 'fail'); // warm-up (module loading, JIT), not counted
    const clean = await time('none', 'fail');
    const rows = [
      ['no failures (baseline)', clean],
      ['every 100th fails, retries 2, dead letters', await time('every100', { retries: 2, backoffMs: 0 })],
      ['every item fails once, retries 1', await time('flaky', { retries: 1, backoffMs: 0 })],
    ] as const;
    for (const [name, run] of rows) {
      console.log(
        `${engineName.padEnd(11)} ${name.padEnd(44)} ${(run.elapsedMs / 1000).toFixed(2).padStart(6)} s  ${(run.elapsedMs / clean.elapsedMs).toFixed(2)}× baseline  ` +
          `emitted ${run.faulty?.emitted}, failed ${run.faulty?.failed}, dead-lettered ${run.faulty?.deadLettered}, retried ${run.faulty?.retried}`,
      );
    }
  }
}
