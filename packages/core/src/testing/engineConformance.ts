import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionEngine, TaskOutcome } from '../contracts/engine.js';
import { readDeadLetters } from '../deadLetters/readDeadLetters.js';
import { isVfError, TaskFailedError, type VfError } from '../errors.js';
import { Flow } from '../flow/flow.js';
import type { FlowReport } from '../flow/report.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import type { ExecutionPlan } from '../plan/executionPlan.js';
import { describeValue, REFUSED_CASES, VALUE_CASES } from './flows/valueCases.js';
import { findLeftovers, type InspectableEngine } from './leftovers.js';
import { CROSSED_TIME_JOINS, DRIFTING_JOINS, describeRandomFlow, type RandomFlowSpec, randomFlowSpec } from './randomFlows.js';

/** Which delivery contract the engine under test promises. */
export type EngineContract = 'batch' | 'realtime';

/** Options of {@link describeEngineConformance}. */
export interface ConformanceOptions {
  /** Name shown in the test output. Default: the engine's class name. */
  readonly name?: string;
  /** `'batch'`: nothing dropped, order kept. `'realtime'`: drops allowed, never older than delivered. */
  readonly contract?: EngineContract;
  /** Per-test timeout in ms. Default 30 000. */
  readonly timeoutMs?: number;
  /** Where the fixture flow modules live (set by `@vf/core/testing`). */
  readonly fixturesUrl: URL;
  /** Extension of the fixture modules: `.ts` from source, `.js` from a build. */
  readonly fixtureExtension: string;
}

/**
 * The groups of a time join over whole streams known at once (each parent's slots, increasing, a
 * slot's event time its number × the period): the rule batch engines apply, with the open group
 * starting at the earliest pending slot and `toleranceSlots` wide. As the conformance flows write
 * them: `null` for a missing parent, an array with `'all'`.
 */
function groupByEventTime(
  parents: readonly (readonly number[])[],
  toleranceSlots: number,
  collect: 'first' | 'last' | 'all',
  quorum: number,
): unknown[][] {
  const pending = parents.map((slots) => [...slots]);
  const groups: unknown[][] = [];
  for (;;) {
    const heads = pending.flatMap((slots) => slots.slice(0, 1));
    if (heads.length === 0) return groups;
    const end = Math.min(...heads) + toleranceSlots;
    const members = pending.map((slots) => {
      const inWindow = slots.filter((slot) => slot <= end).length;
      return slots.splice(0, collect === 'first' ? Math.min(1, inWindow) : inWindow);
    });
    if (members.filter((taken) => taken.length > 0).length < quorum) continue;
    groups.push(
      members.map((taken) => (taken.length === 0 ? null : collect === 'all' ? taken : collect === 'first' ? taken[0] : taken.at(-1))),
    );
  }
}

/**
 * Registers the engine conformance suite with vitest: every engine must pass it. Flows are loaded
 * from flow modules (`Flow.load`), so multi-process engines can rebuild them in their tasks.
 */
export function describeEngineConformanceWith(createEngine: () => ExecutionEngine, options: ConformanceOptions): void {
  const contract = options.contract ?? 'batch';
  const timeout = options.timeoutMs ?? 30_000;
  const title = options.name ?? createEngine().constructor.name;
  const fixture = (name: string) => new URL(`${name}${options.fixtureExtension}`, options.fixturesUrl);

  describe(`engine conformance: ${title} (${contract} contract)`, () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'vf-conformance-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const lines = async (file: string): Promise<unknown[]> => {
      const text = await readFile(file, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as unknown);
    };

    /** Runs fixture flow `name` to its end, on a fresh engine under test unless given another. */
    const runToEnd = async (name: string, params: Record<string, unknown>, engine: ExecutionEngine = createEngine()) => {
      const flow = await Flow.load(fixture(name), params);
      await flow.run(engine);
      return flow.join();
    };

    /** Runs the random-flow fixture with `spec` to completion on `engine`; what its sink wrote, in `name`.jsonl. */
    const runRandomFlow = async (spec: RandomFlowSpec, engine: ExecutionEngine, name: string) => {
      const out = join(dir, `${name}.jsonl`);
      expectCompleted(await runToEnd('randomFlow', { spec, out }, engine));
      return (await lines(out)) as unknown[][];
    };

    /** The run completed; when it did not, the failure's message says why (not just "failed"). */
    const expectCompleted = (report: { status: string; error?: { message: string } | undefined }) => {
      expect(report.error?.message).toBeUndefined();
      expect(report.status).toBe('completed');
    };

    /** Each value is newer than the one delivered before it. */
    const expectIncreasing = (values: readonly number[]) => {
      for (let index = 1; index < values.length; index++) expect(values[index]).toBeGreaterThan(values[index - 1] as number);
    };

    /** Each value is at least the one before it. */
    const expectNonDecreasing = (values: readonly number[]) => {
      for (let index = 1; index < values.length; index++) expect(values[index]).toBeGreaterThanOrEqual(values[index - 1] as number);
    };

    /** Batch: exactly 0..end. Realtime: a strictly increasing subset of 0..end. */
    const expectDelivered = (values: unknown[], end: number) => {
      if (contract === 'batch') {
        expect(values).toEqual(Array.from({ length: end + 1 }, (_, index) => index));
        return;
      }
      const numbers = values as number[];
      expect(numbers.length).toBeGreaterThan(0);
      expectIncreasing(numbers);
      expect(numbers.every((value) => Number.isInteger(value) && value >= 0 && value <= end)).toBe(true);
    };

    /**
     * Nothing vanishes silently: every message a node published reached its child or is counted
     * as dropped on that edge (batch: nothing is dropped at all).
     */
    const expectConserved = (report: FlowReport, from: string, to: string) => {
      const parent = report.nodes.find((node) => node.name === from);
      const child = report.nodes.find((node) => node.name === to);
      expect((child?.received ?? 0) + (child?.dropped ?? 0)).toBe(parent?.emitted);
      if (contract === 'batch') expect(child?.dropped).toBe(0);
    };

    it('a linear flow delivers items in order; each is delivered or counted as dropped (batch: all delivered)', { timeout }, async () => {
      const out = join(dir, 'out.jsonl');
      const report = await runToEnd('linear', { end: 199, out });
      expectCompleted(report);
      expectDelivered(await lines(out), 199);
      const sink = report.nodes.find((node) => node.name === 'sink');
      expect(sink?.received).toBe(contract === 'batch' ? 200 : (await lines(out)).length);
      expect(report.nodes.map((node) => node.name)).toEqual(['numbers', 'identity', 'sink']);
      expectConserved(report, 'numbers', 'identity');
      expectConserved(report, 'identity', 'sink');
    });

    it('one engine object runs one flow: of two given it in the same turn, the second is refused before anything of it starts, and runs on a new engine', {
      timeout: 2 * timeout,
    }, async () => {
      const engine = createEngine();
      const outs = [join(dir, 'first.jsonl'), join(dir, 'second.jsonl')];
      const [first, second] = await Promise.all(outs.map((out) => Flow.load(fixture('linear'), { end: 49, out })));
      const runs = await Promise.allSettled([first?.run(engine), second?.run(engine)]);
      // Both passed the engine's check before, shared its run and hung.
      expect(runs[0]?.status).toBe('fulfilled');
      const refusal = runs[1]?.status === 'rejected' ? runs[1].reason : undefined;
      expect(isVfError(refusal) ? refusal.code : refusal).toBe('INVALID_STATE');
      expectCompleted(await (first as Flow).join());
      expectDelivered(await lines(outs[0] as string), 49);
      // Its join() reported the first flow's run; nothing of it ran.
      await expect((second as Flow).join()).rejects.toMatchObject({ code: 'INVALID_STATE' });
      expect(await lines(outs[1] as string)).toEqual([]);
      await expect((first as Flow).run(createEngine())).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await (second as Flow).run(createEngine());
      expectCompleted(await (second as Flow).join());
      expectDelivered(await lines(outs[1] as string), 49);
      if ('pids' in engine) expect(findLeftovers(engine as unknown as InspectableEngine)).toEqual([]);
    });

    it('flow.join() called while flow.run() is still starting the flow (run not awaited yet) waits for the start and reports the whole run', {
      timeout,
    }, async () => {
      const out = join(dir, 'out.jsonl');
      const flow = await Flow.load(fixture('linear'), { end: 99, out, nbTasks: 2, maxDelayMs: 0 });
      const engine = createEngine();
      const running = flow.run(engine);
      const report = await flow.join();
      await running;
      expectCompleted(report);
      expectDelivered(await lines(out), 99);
      if ('pids' in engine) expect(findLeftovers(engine as unknown as InspectableEngine)).toEqual([]);
    });

    it("the engine's joinTaskProcesses() called while its allocateAndRunTasks() is still starting waits for every task of the run", {
      timeout,
    }, async () => {
      const out = join(dir, 'out.jsonl');
      const flow = await Flow.load(fixture('linear'), { end: 99, out, nbTasks: 2, maxDelayMs: 0 });
      const engine = createEngine();
      let joinedDuringStart: Promise<readonly TaskOutcome[]> | undefined;
      // The engine as the flow sees it, but joined at once when asked to start (its methods on the engine itself).
      const joiningEngine = new Proxy(engine, {
        get(target, property) {
          if (property === 'allocateAndRunTasks') {
            return (plan: ExecutionPlan) => {
              const starting = target.allocateAndRunTasks(plan);
              joinedDuringStart = target.joinTaskProcesses();
              return starting;
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      await flow.run(joiningEngine);
      const report = await flow.join();
      expectCompleted(report);
      expectDelivered(await lines(out), 99);
      const outcomes = await (joinedDuringStart as Promise<readonly TaskOutcome[]>);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
      if ('pids' in engine) expect(findLeftovers(engine as unknown as InspectableEngine)).toEqual([]);
    });

    it('a diamond join pairs outputs of the same origin', { timeout }, async () => {
      const out = join(dir, 'out.jsonl');
      const report = await runToEnd('diamond', { end: 99, out });
      expectCompleted(report);
      const pairs = (await lines(out)) as Array<[number, number]>;
      for (const [doubled, shifted] of pairs) expect(doubled / 2).toBe(shifted - 1000);
      if (contract === 'batch') expect(pairs.map(([doubled]) => doubled / 2)).toEqual(Array.from({ length: 100 }, (_, index) => index));
    });

    // A join whose parents end at different times can pair nothing once the shorter one has ended:
    // its end goes out then. Waiting for the longer parent's end deadlocked a later join with that
    // parent (batch, InProcessEngine): the later join waited for the first's next item or end, the
    // longer parent for room there, and the first join for the longer parent's end.
    for (const [pairJoin, mode, nbTasks] of [
      ['origin', 'origin', 1],
      ['origin', 'origin', 2],
      ['origin', 'time', 1],
      ['time', 'origin', 1],
    ] as const) {
      it(`a join (${pairJoin}) of parents of different lengths ends with the shorter one: a later ${mode} join with the longer parent completes (pair nbTasks ${nbTasks})`, {
        timeout,
      }, async () => {
        const out = join(dir, 'out.jsonl');
        const report = await runToEnd('unevenJoin', { shortEnd: 2, longEnd: 40, out, join: mode, pairJoin, nbTasks });
        expectCompleted(report);
        const sets = await lines(out);
        const pair = report.nodes.find((node) => node.name === 'pair');
        // Nothing vanishes at pair: short's 3 items and long's 41, each taken in a set or dropped.
        expect((pair?.received ?? 0) * 2 + (pair?.dropped ?? 0)).toBe(3 + 41);
        if (mode === 'time') {
          // Groups depend on timing where an edge fills (it then counts as having sent all it
          // can), so only their shape is fixed: both parents in each (quorum 2), pairs aligned and
          // in order.
          const paired = (sets as Array<[Array<[number, number]>, number[]]>).flatMap(([pairs, longs]) => {
            expect(pairs.length).toBeGreaterThan(0);
            expect(longs.length).toBeGreaterThan(0);
            return pairs.map(([shortItem, longItem]) => (shortItem === longItem ? shortItem : -1));
          });
          expect(paired.length).toBeGreaterThan(0);
          expectIncreasing(paired);
          expect(paired.every((item) => item >= 0 && item <= 2)).toBe(true);
          return;
        }
        if (contract === 'realtime') {
          // Fewer sets maybe, but each one aligned, and in order.
          const aligned = (sets as Array<[[number, number], number]>).map(([[shortItem, longItem], again]) =>
            shortItem === longItem && longItem === again ? again : -1,
          );
          expectIncreasing(aligned);
          expect(aligned.every((item) => item >= 0 && item <= 2)).toBe(true);
          return;
        }
        expect(pair?.received).toBe(3);
        expect(sets).toEqual([0, 1, 2].map((item) => [[item, item], item]));
      });
    }

    it('nbTasks: 3 keeps input order (batch: every item exactly once)', { timeout }, async () => {
      const out = join(dir, 'out.jsonl');
      const report = await runToEnd('linear', { end: 299, out, nbTasks: 3, maxDelayMs: 3 });
      expectCompleted(report);
      expectDelivered(await lines(out), 299);
      const identity = report.nodes.find((node) => node.name === 'identity');
      expect(identity?.tasks).toBe(3);
      expect(identity?.device).toHaveLength(3);
      expectConserved(report, 'numbers', 'identity');
      expectConserved(report, 'identity', 'sink');
    });

    // Up to 11 tasks per flow: start-up alone takes a while on a busy machine, hence the longer timeout.
    describe('replicated nodes anywhere (topology matrix)', () => {
      const shapes = ['chain', 'replicatedJoin', 'joinThenReplicas', 'fanOut'] as const;
      for (const shape of shapes) {
        it(`${shape}: every item once, in order (realtime: strictly increasing), joins aligned`, { timeout: timeout * 2 }, async () => {
          const out = join(dir, 'out.jsonl');
          const out2 = join(dir, 'out2.jsonl');
          const report = await runToEnd('topology', { shape, end: 149, out, out2 });
          expect(report.error).toBeUndefined();
          expectCompleted(report);
          expectDelivered(await lines(out), 149);
          if (shape === 'fanOut') expectDelivered(await lines(out2), 149);
          if (shape === 'chain') {
            expectConserved(report, 'numbers', 'first');
            expectConserved(report, 'first', 'second');
            expectConserved(report, 'second', 'sink');
          }
          for (const node of report.nodes) expect(node.device).toHaveLength(node.tasks);
          if (contract === 'batch') for (const node of report.nodes) expect(node.dropped).toBe(0);
        });
      }
    });

    it('a one-task aggregator runs once over its inputs (batch: 0..40 ends at 820)', { timeout }, async () => {
      const out = join(dir, 'out.jsonl');
      const report = await runToEnd('aggregate', { end: 40, out });
      expectCompleted(report);
      const sums = (await lines(out)) as number[];
      expect(report.nodes.find((node) => node.name === 'sum')?.tasks).toBe(1);
      expectConserved(report, 'numbers', 'sum');
      expectConserved(report, 'sum', 'sink');
      if (contract === 'batch') {
        expect(sums).toHaveLength(41);
        expect(sums.at(-1)).toBe(820);
      } else {
        // A running sum over a subset of 0..40: grows with every new input, never past the full sum.
        expectIncreasing(sums.filter((sum) => sum > 0));
        expect(sums.every((sum) => sum <= 820)).toBe(true);
      }
    });

    it('stop() ends an endless flow and runs every close()', { timeout }, async () => {
      const out = join(dir, 'out.jsonl');
      const closeLog = join(dir, 'close.log');
      const flow = await Flow.load(fixture('endless'), { out, closeLog, fps: 200 });
      await flow.run(createEngine());
      const deadline = Date.now() + timeout / 2;
      while ((await lines(out)).length < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      flow.stop();
      const report = await flow.join();
      expect(report.status).toBe('stopped');
      const delivered = (await lines(out)) as number[];
      expect(delivered.length).toBeGreaterThanOrEqual(5);
      expectIncreasing(delivered);
      const closed = (await readFile(closeLog, 'utf8')).split('\n').filter(Boolean).sort();
      expect(closed).toEqual(['identity', 'identity', 'sink', 'ticker']);
    });

    // A producer that never awaits must not starve its process: the stop request, credits and
    // timers all need the event loop. (If it does starve an in-process engine, nothing in this
    // process runs again, this test's timeout included: the run hangs instead of failing.)
    for (const workMs of [0, 5]) {
      it(`stop() ends a flow whose producer never awaits, into a ${workMs === 0 ? 'synchronous' : `${workMs} ms`} processor, within 3 s`, {
        timeout,
      }, async ({ annotate }) => {
        const out = join(dir, 'out.jsonl');
        const closeLog = join(dir, 'close.log');
        const flow = await Flow.load(fixture('unpaced'), { out, closeLog, workMs });
        await flow.run(createEngine());
        const deadline = Date.now() + timeout / 2;
        while ((await lines(out)).length < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        const stoppedAt = performance.now();
        flow.stop();
        const report = await flow.join();
        const stopMs = performance.now() - stoppedAt;
        await annotate(`stop() to join(): ${stopMs.toFixed(0)} ms`);
        expect(report.status).toBe('stopped');
        const delivered = (await lines(out)) as number[];
        expect(delivered.length).toBeGreaterThanOrEqual(5);
        if (contract === 'batch') expect(delivered).toEqual(Array.from({ length: delivered.length }, (_, index) => index));
        else expectIncreasing(delivered);
        // Bounded generously for a loaded machine; typically well under a second.
        expect(stopMs).toBeLessThan(3000);
        const closed = (await readFile(closeLog, 'utf8')).split('\n').filter(Boolean).sort();
        expect(closed).toEqual(['identity', 'numbers', 'sink']);
      });
    }

    it('a throwing node fails the flow with TaskFailedError naming it, without hanging', { timeout }, async () => {
      const out = join(dir, 'out.jsonl');
      const closeLog = join(dir, 'close.log');
      const report = await runToEnd('throwing', { out, failAt: 25, closeLog });
      expect(report.status).toBe('failed');
      expect(report.error).toBeInstanceOf(TaskFailedError);
      expect(isVfError(report.error)).toBe(true);
      expect(report.error?.nodeName).toBe('exploder');
      expect(report.error?.taskIndex).toBe(0);
      const message = String((report.error?.cause as Error | undefined)?.message);
      const explodedOn = Number(/exploded on item (\d+)/.exec(message)?.[1]);
      if (contract === 'batch') expect(explodedOn).toBe(25);
      else expect(explodedOn).toBeGreaterThanOrEqual(25);
      expect((report.error?.cause as Error | undefined)?.stack).toContain('Exploder');
      const delivered = (await lines(out)) as number[];
      expect(delivered.every((value) => value < explodedOn)).toBe(true);
      expect((await readFile(closeLog, 'utf8')).trim()).toBe('after');
    });

    it("a node error of an odd shape (a number for message; BigInt and circular details; Node's own, with its fields) fails the flow as itself, with its counters", {
      timeout,
    }, async () => {
      for (const shape of ['numericMessage', 'oddDetails', 'systemError'] as const) {
        const report = await runToEnd('throwing', {
          out: join(dir, `${shape}.jsonl`),
          failAt: 25,
          closeLog: join(dir, 'close.log'),
          shape,
        });
        expect(report.status).toBe('failed');
        expect(report.error).toBeInstanceOf(TaskFailedError);
        expect(report.error?.nodeName).toBe('exploder');
        // Before, multi-process engines reported an internal error instead (an invalid control message, or JSON failing on a BigInt).
        const cause = report.error?.cause as (Error & { code?: string }) | undefined;
        if (shape === 'numericMessage') expect(String(cause?.message)).toMatch(/^\d+$/);
        else if (shape === 'systemError') {
          // Its own fields arrive on it, as they would have in one process: errno, syscall, path, and the node's own.
          const fields = cause as Error & { code?: string; errno?: number; syscall?: string; path?: string; item?: number };
          expect([fields.code, fields.errno, fields.syscall]).toEqual(['ENOENT', -2, 'open']);
          expect(fields.path).toBe(`/nonexistent-vf-exploder/${fields.item}`);
          expect(fields.item).toBeGreaterThanOrEqual(25);
        } else expect([cause?.code, cause?.message]).toEqual(['EXPLODED', expect.stringMatching(/^exploded on item \d+$/)]);
        const exploder = report.nodes.find((node) => node.name === 'exploder');
        expect(exploder?.received).toBeGreaterThanOrEqual(contract === 'batch' ? 26 : 1);
      }
    });

    it('values arrive exactly as sent, across two hops (the value matrix)', { timeout: 2 * timeout }, async () => {
      const out = join(dir, 'out.jsonl');
      // Realtime may drop items: pace the producer so that most cases get through.
      const report = await runToEnd('values', contract === 'batch' ? { out } : { out, fps: 50 });
      expectCompleted(report);
      const received = (await lines(out)) as Array<{ index: number; description: string }>;
      if (contract === 'batch') expect(received.map(({ index }) => index)).toEqual(VALUE_CASES.map((_, index) => index));
      else expect(received.length).toBeGreaterThan(0);
      for (const { index, description } of received) {
        const valueCase = VALUE_CASES[index];
        expect({ case: valueCase?.name, description }).toEqual({ case: valueCase?.name, description: describeValue(valueCase?.make()) });
      }
    });

    it.each(['function', 'unregisteredClass', 'tooLarge'])(
      'a value the model refuses (%s) fails the flow in its sender, with a coded error naming the path',
      { timeout },
      async (kind) => {
        const expected = REFUSED_CASES[kind] as { code: string; path: string };
        const report = await runToEnd('values', { out: join(dir, 'out.jsonl'), refuse: kind });
        expect(report.status).toBe('failed');
        expect(report.error).toBeInstanceOf(TaskFailedError);
        expect(report.error?.nodeName).toBe('maker');
        const cause = report.error?.cause as VfError | undefined;
        expect(isVfError(cause)).toBe(true);
        expect(cause?.name).toBe('ValueError');
        expect(cause?.code).toBe(expected.code);
        expect(cause?.details).toMatchObject({ nodeName: 'maker', path: expected.path });
        expect(cause?.message).toContain(`node "maker" cannot send ${expected.path}`);
        expect(await lines(join(dir, 'out.jsonl'))).toEqual([]);
      },
    );

    it('a value the receiver cannot decode (a registered decode throws) fails the receiving node, not the sender, with VALUE_DECODE_FAILED', {
      timeout,
    }, async () => {
      const report = await runToEnd('values', { out: join(dir, 'out.jsonl'), refuse: 'undecodable' });
      expect(report.status).toBe('failed');
      expect(report.error).toBeInstanceOf(TaskFailedError);
      // InProcessEngine decoded in the sender's publish and named "maker".
      expect(report.error?.nodeName).toBe('sink');
      const cause = report.error?.cause as VfError | undefined;
      expect([cause?.name, cause?.code]).toEqual(['ValueError', 'VALUE_DECODE_FAILED']);
      expect(cause?.message).toContain('Undecodable cannot be rebuilt');
      expect(await lines(join(dir, 'out.jsonl'))).toEqual([]);
    });

    it('a node whose open() throws: run() rejects naming it, join() resolves, every close() runs', { timeout }, async () => {
      const closeLog = join(dir, 'close.log');
      const flow = await Flow.load(fixture('openFails'), { out: join(dir, 'out.jsonl'), closeLog });
      const error = await flow.run(createEngine()).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      expect(error).toBeInstanceOf(TaskFailedError);
      expect((error as TaskFailedError).code).toBe('TASK_FAILED');
      expect((error as TaskFailedError).nodeName).toBe('loader');
      expect(String((error as TaskFailedError).cause)).toContain('model file missing');
      const report = await flow.join();
      expect(report.status).toBe('failed');
      expect(report.error?.nodeName).toBe('loader');
      const closed = (await readFile(closeLog, 'utf8')).split('\n').filter(Boolean).sort();
      expect(closed).toEqual(['loader', 'numbers', 'sink']);
    });

    describe('per-item errors (onError)', () => {
      const row = (report: FlowReport, name: string) => report.nodes.find((node) => node.name === name);
      const edge = (report: FlowReport, from: string, to: string) => report.edges.find((e) => e.from === from && e.to === to);
      const every100 = (end: number) => Array.from({ length: end + 1 }, (_, index) => index).filter((value) => value % 100 !== 99);

      it('every 100th of 10,000 throws, { retries: 2, deadLetter }: the flow completes, the rest arrive in order (realtime: no retries, increasing), each failure stored once with its input and error', {
        timeout: timeout * 2,
      }, async ({ annotate }) => {
        const out = join(dir, 'out.jsonl');
        const deadLetter = join(dir, 'dead');
        const report = await runToEnd('onError', { shape: 'linear', end: 9_999, out, onError: { retries: 2, backoffMs: 1, deadLetter } });
        expect(report.error).toBeUndefined();
        expectCompleted(report);
        const delivered = (await lines(out)) as number[];
        const faulty = row(report, 'faulty');
        const letters = await readDeadLetters(deadLetter);
        await annotate(
          `delivered ${delivered.length}, failed ${faulty?.failed}, dead letters ${letters.length}, in ${report.durationMs.toFixed(0)} ms`,
        );
        if (contract === 'batch') {
          expect(delivered).toEqual(every100(9_999));
          expect(letters.map((letter) => letter.seq)).toEqual(Array.from({ length: 100 }, (_, index) => index * 100 + 99));
          expect(faulty).toMatchObject({ received: 10_000, emitted: 9_900, failed: 100, deadLettered: 100, retried: 200 });
          expect(row(report, 'sink')?.received).toBe(9_900);
        } else {
          expectIncreasing(delivered);
          expect(delivered.every((value) => value % 100 !== 99)).toBe(true);
          expect(faulty?.retried).toBe(0);
          expect(letters.every((letter) => letter.seq % 100 === 99 && letter.attempts === 1)).toBe(true);
        }
        expect(letters).toHaveLength(faulty?.failed ?? -1);
        expect(faulty?.deadLettered).toBe(faulty?.failed);
        // Per edge, what the markers counted; realtime publishes none (nothing waits for a missing origin there).
        if (contract === 'batch') expect(edge(report, 'faulty', 'sink')).toMatchObject({ failed: 100, deadLettered: 100 });
        for (const letter of letters) {
          expect(letter).toMatchObject({ node: 'faulty', taskIndex: 0, inputs: [letter.seq], attempts: contract === 'batch' ? 3 : 1 });
          expect(letter.error).toMatchObject({
            name: 'Error',
            message: `corrupt item ${letter.seq}`,
            code: 'CORRUPT_ITEM',
            cause: { message: 'checksum mismatch' },
          });
          expect(letter.error.stack).toContain('Faulty');
        }
        expect(String(report)).toMatch(/ failed \S dead-lettered /);
      });

      it('a flaky node that fails once per item succeeds on retry: all 10,000 arrive (realtime never retries: it delivers none, every item counted as failed)', {
        timeout: timeout * 2,
      }, async ({ annotate }) => {
        const out = join(dir, 'out.jsonl');
        const report = await runToEnd('onError', {
          shape: 'linear',
          fault: 'flaky',
          end: 9_999,
          out,
          onError: { retries: 1, backoffMs: 0 },
        });
        expectCompleted(report);
        const faulty = row(report, 'faulty');
        await annotate(
          `delivered ${(await lines(out)).length}, failed ${faulty?.failed}, retried ${faulty?.retried}, in ${report.durationMs.toFixed(0)} ms`,
        );
        if (contract === 'batch') {
          expect(await lines(out)).toEqual(Array.from({ length: 10_000 }, (_, index) => index));
          expect(faulty).toMatchObject({ failed: 0, deadLettered: 0, retried: 10_000, emitted: 10_000 });
        } else {
          expect(await lines(out)).toEqual([]);
          expect(faulty).toMatchObject({ retried: 0, emitted: 0, deadLettered: 0 });
          expect(faulty?.failed).toBe(faulty?.received);
        }
      });

      it.each([
        { joinTasks: 1, nbTasks: 1 },
        { joinTasks: 2, nbTasks: 3 },
      ])(
        "a join drops the other branch's output of an origin given up, never pairing it with another (join tasks $joinTasks, faulty tasks $nbTasks)",
        {
          timeout: timeout * 2,
        },
        async ({ joinTasks, nbTasks }) => {
          const out = join(dir, 'out.jsonl');
          const report = await runToEnd('onError', { shape: 'join', end: 999, out, onError: 'skip', joinTasks, nbTasks });
          // Unpair throws on a misaligned pair: completing proves none was formed.
          expect(report.error).toBeUndefined();
          expectCompleted(report);
          const delivered = (await lines(out)) as number[];
          if (contract === 'batch') {
            expect(delivered).toEqual(every100(999));
            expect(row(report, 'faulty')).toMatchObject({ failed: 10, deadLettered: 0 });
            expect(edge(report, 'faulty', 'unpair')).toMatchObject({ failed: 10, deadLettered: 0, dropped: 0 });
            expect(edge(report, 'shift', 'unpair')).toMatchObject({ dropped: 10, failed: 0 });
            expect(row(report, 'unpair')?.received).toBe(990);
          } else {
            expectIncreasing(delivered);
            expect(delivered.every((value) => value % 100 !== 99)).toBe(true);
          }
        },
      );

      it('replicas (nbTasks: 3) keep order; dead letters from every replica, one file pair per task', {
        timeout: timeout * 2,
      }, async () => {
        const out = join(dir, 'out.jsonl');
        const deadLetter = join(dir, 'dead');
        const report = await runToEnd('onError', {
          shape: 'linear',
          end: 1_999,
          out,
          nbTasks: 3,
          onError: { deadLetter: { dir: deadLetter } },
        });
        expectCompleted(report);
        const letters = await readDeadLetters(deadLetter);
        const delivered = (await lines(out)) as number[];
        if (contract === 'batch') {
          expect(delivered).toEqual(every100(1_999));
          expect(letters.map((letter) => letter.seq)).toEqual(Array.from({ length: 20 }, (_, index) => index * 100 + 99));
        } else {
          expectIncreasing(delivered);
        }
        expect(letters).toHaveLength(row(report, 'faulty')?.deadLettered ?? -1);
        expect(letters.every((letter) => letter.inputs?.[0] === letter.seq && letter.taskIndex < 3)).toBe(true);
      });

      it.each([1, 2])(
        "a task module (%i tasks) applies its member's onError inside it: every 100th item given up there, stored under the member's name with the member's own input, the rest in order; the module's row counts them",
        { timeout: timeout * 2 },
        async (nbTasks) => {
          const out = join(dir, 'out.jsonl');
          const deadLetter = join(dir, 'dead');
          const report = await runToEnd('onError', {
            shape: 'module',
            end: 1_999,
            out,
            nbTasks,
            onError: { retries: 1, backoffMs: 0, deadLetter },
          });
          expect(report.error).toBeUndefined();
          expectCompleted(report);
          const delivered = (await lines(out)) as number[];
          const module = row(report, 'module');
          const letters = await readDeadLetters(deadLetter);
          if (contract === 'batch') {
            expect(delivered).toEqual(every100(1_999));
            expect(module).toMatchObject({ received: 2_000, emitted: 1_980, failed: 20, deadLettered: 20, retried: 20 });
            expect(edge(report, 'module', 'sink')).toMatchObject({ failed: 20, deadLettered: 20 });
            expect(letters.map((letter) => letter.seq)).toEqual(Array.from({ length: 20 }, (_, index) => index * 100 + 99));
          } else {
            expectIncreasing(delivered);
            expect(delivered.every((value) => value % 100 !== 99)).toBe(true);
            expect(module?.retried).toBe(0);
          }
          expect(module?.failed).toBe(letters.length);
          for (const letter of letters) {
            expect(letter).toMatchObject({ node: 'module/faulty', inputs: [letter.seq + 1000], attempts: contract === 'batch' ? 2 : 1 });
            expect(letter.taskIndex).toBeLessThan(nbTasks);
            expect(letter.error).toMatchObject({ message: `corrupt item ${letter.seq + 1000}`, code: 'CORRUPT_ITEM' });
          }
        },
      );

      it("a consumer with onError: 'skip' counts what it skipped and consumes the rest", { timeout }, async () => {
        const out = join(dir, 'out.jsonl');
        const report = await runToEnd('onError', { shape: 'consumer', end: 999, out, onError: 'skip' });
        expectCompleted(report);
        const delivered = (await lines(out)) as number[];
        const sink = row(report, 'sink');
        if (contract === 'batch') {
          expect(delivered).toEqual(every100(999));
          expect(sink).toMatchObject({ received: 1_000, failed: 10, deadLettered: 0 });
        } else {
          expectIncreasing(delivered);
          expect(sink?.failed).toBe((sink?.received ?? 0) - delivered.length);
        }
      });
    });

    // A replicated node with no children: under the batch engine's restartOnFailure its inputs'
    // room went back only when an output was sent, so it stalled after queueSize × its tasks items.
    it.each([1, 3])('a flow with a consumer-less branch (%i tasks) still ends', { timeout }, async (danglingTasks) => {
      const out = join(dir, 'out.jsonl');
      const report = await runToEnd('branch', { end: 49, out, danglingTasks });
      expectCompleted(report);
      expectDelivered(await lines(out), 49);
      const dangling = report.nodes.find((node) => node.name === 'dangling');
      expect(dangling?.tasks).toBe(danglingTasks);
      if (contract === 'batch') expect(dangling?.received).toBe(50);
      else expect(dangling?.received).toBeGreaterThan(0);
    });

    // The white paper's E6. The cameras stamp event times (slot × 20 ms), so the grouping depends on
    // the data alone; realtime may still drop frames under load (its contract), hence its looser check.
    it('a time join groups two 50 fps cameras by event time (E6: 150 groups, 100 complete, 50 with camera 1 only)', {
      timeout,
    }, async () => {
      const out = join(dir, 'out.jsonl');
      const report = await runToEnd('timeJoin', {
        out,
        slots: 150,
        periodMs: 20,
        dropEvery: 3,
        toleranceMs: 12,
        timeoutMs: 250,
        quorum: 1,
      });
      expectCompleted(report);
      const groups = (await lines(out)) as Array<[number | null, number | null]>;
      const complete = groups.filter(([a, b]) => a !== null && b !== null);
      for (const [a, b] of complete) expect(a).toBe(b);
      const sink = report.nodes.find((node) => node.name === 'sink');
      expect(sink?.joins?.complete).toBe(complete.length);
      expect(sink?.joins?.partial).toBe(groups.length - complete.length);
      expect(sink?.received).toBe(groups.length);
      // Every frame is in a group or counted as dropped on its edge.
      for (const [camera, position] of [
        ['cam1', 0],
        ['cam2', 1],
      ] as const) {
        const inGroups = groups.filter((group) => group[position] !== null).length;
        const dropped = report.edges.find((edge) => edge.from === camera && edge.to === 'sink')?.dropped ?? 0;
        expect(inGroups + dropped).toBe(report.nodes.find((node) => node.name === camera)?.emitted);
      }
      if (contract === 'batch') {
        const expected = Array.from({ length: 150 }, (_, slot) => [slot, slot % 3 === 2 ? null : slot]);
        expect(groups).toEqual(expected);
        expect(sink?.joins).toEqual({ complete: 100, partial: 50, dropped: 0 });
        expect(report.format()).toContain('sink joined by time: 100 complete, 50 partial, 0 dropped groups');
        return;
      }
      const slots = groups.map(([a, b]) => (a ?? b) as number);
      expectIncreasing(slots);
      expect(groups.length).toBeGreaterThan(0);
    });

    // A marker (an item given up upstream, onError) is that parent's absence in a time join: the
    // group is released partial when it meets the quorum, else dropped; user code never sees one.
    // Realtime sends no markers: its groups are those of a camera that never had the frames.
    describe('a time join behind a node that skips failing items', () => {
      const cases = (['first', 'last', 'all'] as const).flatMap((collect) => [1, 2].map((quorum) => ({ collect, quorum })));
      it.each(cases)('collect $collect, quorum $quorum: the skipped frames count as missing', { timeout }, async ({ collect, quorum }) => {
        const out = join(dir, 'out.jsonl');
        const report = await runToEnd('timeJoin', {
          out,
          slots: 30,
          periodMs: 20,
          dropEvery: 0,
          skipEvery: 3,
          toleranceMs: 5,
          quorum,
          collect,
        });
        expectCompleted(report);
        // One slot per camera, or null; 'all' gives arrays of one slot.
        const slotOf = (value: unknown): number | null =>
          (collect === 'all' && Array.isArray(value) && value.length === 1 ? value[0] : value) as number | null;
        const groups = ((await lines(out)) as unknown[][]).map((group) => group.map(slotOf));
        for (const group of groups) for (const slot of group) expect(slot === null || Number.isInteger(slot)).toBe(true);
        const sink = report.nodes.find((node) => node.name === 'sink');
        const complete = groups.filter(([a, b]) => a !== null && b !== null);
        expect(sink?.joins?.complete).toBe(complete.length);
        expect(sink?.joins?.partial).toBe(groups.length - complete.length);
        if (contract === 'batch') {
          const expected = Array.from({ length: 30 }, (_, slot) => [slot, slot % 3 === 1 ? null : slot]).filter(
            ([, b]) => quorum === 1 || b !== null,
          );
          expect(groups).toEqual(expected);
          expect(sink?.joins).toEqual(quorum === 1 ? { complete: 20, partial: 10, dropped: 0 } : { complete: 20, partial: 0, dropped: 10 });
          expect(report.edges.find((edge) => edge.from === 'flaky' && edge.to === 'sink')).toMatchObject({ failed: 10, dropped: 0 });
          expect(report.edges.find((edge) => edge.from === 'cam1' && edge.to === 'sink')?.dropped ?? 0).toBe(quorum === 1 ? 0 : 10);
          return;
        }
        for (const [a, b] of groups) {
          if (b !== null && b !== undefined) expect(b % 3).not.toBe(1);
          if (a !== null && b !== null) expect(a).toBe(b);
        }
        // Each camera's frames in order, each once. A group may share its event time with the one
        // before it: a frame that comes after its group closed on the timeout (a loaded machine)
        // starts a group of its own, as the rule says (late is earlier than a closed group's start).
        for (const camera of [0, 1]) expectIncreasing(groups.flatMap((group) => (group[camera] === null ? [] : [group[camera] as number])));
        expectNonDecreasing(groups.map(([a, b]) => (a ?? b) as number));
      });
    });

    // Its last group waits for the relay's end. Under batch's restartOnFailure the relay confirmed
    // its inputs to camera 2 only once the join released its outputs, and camera 2 ends only once
    // its messages are confirmed: the flow hung. The join now says when messages arrive.
    it("a time join that waits for a replicated parent's end (collect 'all', 100 ms tolerance) completes, every item in one group (realtime: in order)", {
      timeout,
    }, async () => {
      const out = join(dir, 'out.jsonl');
      const report = await runToEnd('timeJoin', {
        out,
        slots: 25,
        periodMs: 10,
        paced: false,
        dropEvery: 0,
        toleranceMs: 100,
        quorum: 1,
        collect: 'all',
        relayTasks: 3,
      });
      expectCompleted(report);
      const groups = (await lines(out)) as Array<[number[] | null, number[] | null]>;
      for (const [parent, from] of [
        [0, 'cam1'],
        [1, 'relay'],
      ] as const) {
        const slots = groups.flatMap((group) => group[parent] ?? []);
        expectIncreasing(slots);
        const dropped = report.edges.find((edge) => edge.from === from && edge.to === 'sink')?.dropped ?? 0;
        if (contract === 'batch') {
          expect(slots).toEqual(Array.from({ length: 25 }, (_, slot) => slot));
          expect(dropped).toBe(0);
        } else {
          // Realtime also drops whole groups gone stale (counted as dropped groups, not on the edges).
          expect(slots.length + dropped).toBeLessThanOrEqual(25);
        }
      }
    });

    // One camera on both sides of a join by time, groups wider than the queue (5 frames, queues of
    // 1 to 4): the camera's edge into the join fills while the other side still waits for the
    // camera's next frames (with 'first', also once skips leave the camera's frames pending). Such
    // parents are lent their room, so every group closes on event time alone: batch engines make
    // exactly the groups of the rule applied to the whole streams at once.
    //
    // In the last case the inner join needs both parents (quorum 2) and the relay skips slots 10 to
    // 39: the inner join drops those groups. It used to send nothing for them, and the sink, waiting
    // to hear how far it had got, held the camera's frames until the camera could feed the inner
    // join no more. A dropped group now sends a marker with its event time, as a skipped item does.
    for (const [diamond, collect, quorum, skip, innerQuorum] of [
      ['direct', 'all', 1, undefined, undefined],
      ['direct', 'all', 1, 4, undefined],
      ['fork', 'all', 1, undefined, undefined],
      ['direct', 'first', 2, 4, undefined],
      ['fork', 'last', 2, 3, undefined],
      ['nested', 'all', 2, 4, undefined],
      ['nested', 'all', 1, [10, 39], 2],
    ] as const) {
      const skipping =
        skip === undefined ? '' : typeof skip === 'number' ? ', the relay skipping' : `, the relay skipping slots ${skip[0]}-${skip[1]}`;
      const inner = innerQuorum === undefined ? '' : `, inner quorum ${innerQuorum}`;
      it(`a time join of two branches of one camera (${diamond}, '${collect}', quorum ${quorum}${inner}${skipping}; groups wider than the queue) completes, grouped by event time`, {
        timeout,
      }, async () => {
        const out = join(dir, 'out.jsonl');
        const slots = 60;
        const report = await runToEnd('timeJoin', {
          out,
          slots,
          periodMs: 10,
          paced: false,
          toleranceMs: 45,
          quorum,
          collect,
          relayTasks: 2,
          relayDelayMs: 2,
          diamond,
          ...(skip === undefined ? {} : typeof skip === 'number' ? { skipEvery: skip } : { skipSlots: skip }),
          ...(innerQuorum === undefined ? {} : { innerQuorum }),
        });
        expectCompleted(report);
        const groups = (await lines(out)) as Array<[unknown, unknown]>;
        const camera = Array.from({ length: slots }, (_, slot) => slot);
        const relayed = camera.filter((slot) =>
          skip === undefined ? true : typeof skip === 'number' ? slot % skip !== 1 : slot < skip[0] || slot > skip[1],
        );
        if (contract === 'batch' && diamond === 'nested') {
          // `inner` groups camera and relay; each group's event time is its earliest slot's.
          const innerGroups = groupByEventTime([camera, relayed], 4, collect, innerQuorum ?? 1) as Array<
            [number[] | null, number[] | null]
          >;
          const starts = innerGroups.map((group) => Math.min(...group.flatMap((slots) => slots ?? [])));
          const outer = groupByEventTime([starts, camera], 4, collect, quorum) as Array<[number[] | null, number[] | null]>;
          expect(groups).toEqual(
            outer.map(([innerStarts, slots]) => [innerStarts?.map((start) => innerGroups[starts.indexOf(start)]) ?? null, slots]),
          );
          // The inner join's dropped groups (every 5 slots a window) are no failures anywhere downstream.
          const windows = Math.ceil(slots / 5);
          expect(report.nodes.find((node) => node.name === 'inner')?.joins?.dropped).toBe(windows - innerGroups.length);
          expect(report.edges.filter((edge) => (edge.failed ?? 0) > 0).map((edge) => `${edge.from}->${edge.to}`)).toEqual(
            skip === undefined ? [] : ['flaky->inner'],
          );
          return;
        }
        if (contract === 'batch') {
          expect(groups).toEqual(groupByEventTime([camera, relayed], 4, collect, quorum));
          return;
        }
        for (const parent of diamond === 'nested' ? [1] : [0, 1]) {
          const taken = groups.flatMap((group) => (group[parent] ?? []) as number | number[]);
          expectIncreasing(taken);
          expect(taken.length).toBeLessThanOrEqual(slots);
        }
      });
    }

    // Flows drawn at random (the same for each seed), whose output the contract fixes on batch
    // engines: they make exactly what InProcessEngine makes with queues no group outgrows.
    // `VF_RANDOM_FLOWS` sets how many (a longer run finds rarer cases; default 6).
    describe('random flows', () => {
      const count = Number(process.env.VF_RANDOM_FLOWS ?? 6);
      for (let seed = 1; seed <= count; seed++) {
        const spec = randomFlowSpec(seed);
        it(`flow ${seed} (${describeRandomFlow(spec)}) completes${contract === 'batch' ? ', its output that of InProcessEngine' : ''}`, {
          timeout,
        }, async () => {
          // Realtime: that it completes (runRandomFlow checks it); what it drops depends on timing.
          const written = await runRandomFlow(spec, createEngine(), 'tested');
          if (contract === 'batch') expect(written).toEqual(await runRandomFlow(spec, new InProcessEngine({ queueSize: 64 }), 'reference'));
        });
      }
    });

    // Joins whose waits hold back each other's producers: every task waits; the engine lets one
    // message past its room until the flow moves again (Parks' rule). Before, these waited until
    // stop() on batch engines. Realtime never blocks a publisher: it completes.
    describe('deadlocks of bounded queues', () => {
      const cases = [
        // CROSSED_TIME_JOINS hung at queueSize 1, 2 and 4; its sink gets n6's 12 groups.
        {
          flow: "two time joins that hold back each other's producer (windows wider than the queue)",
          spec: CROSSED_TIME_JOINS,
          groups: 12,
        },
        // DRIFTING_JOINS needs more room with every item, at any queueSize; its sink pairs all 60.
        { flow: 'two producers of different periods joined both by origin and by time', spec: DRIFTING_JOINS, groups: 60 },
      ];
      for (const { flow, spec, groups } of cases) {
        it(`${flow}: completes, the output that of InProcessEngine with queues no window outgrows`, { timeout }, async () => {
          const written = await runRandomFlow(spec, createEngine(), 'tested');
          if (contract === 'batch') {
            expect(written).toHaveLength(groups);
            expect(written).toEqual(await runRandomFlow(spec, new InProcessEngine({ queueSize: 64 }), 'reference'));
          }
        });
      }
    });

    // Replicas of a parent finish out of order (a fast one runs ahead of the one whose output is
    // next); the join puts their outputs back in order first, so the groups are E6's, exactly, on
    // batch engines, whatever the timing.
    it.each([
      { relayTasks: 2, relayDelayMs: 0, work: 'no wait' },
      { relayTasks: 4, relayDelayMs: 10, work: 'waits up to 10 ms' },
    ])(
      'a time join whose parent is replicated ($relayTasks tasks, each $work) makes the same groups as without replicas',
      {
        timeout,
      },
      async ({ relayTasks, relayDelayMs }) => {
        const out = join(dir, 'out.jsonl');
        const report = await runToEnd('timeJoin', {
          out,
          slots: 90,
          periodMs: 20,
          paced: false,
          dropEvery: 3,
          toleranceMs: 12,
          quorum: 1,
          relayTasks,
          relayDelayMs,
        });
        expectCompleted(report);
        const groups = (await lines(out)) as Array<[number | null, number | null]>;
        const sink = report.nodes.find((node) => node.name === 'sink');
        if (contract === 'batch') {
          expect(groups).toEqual(Array.from({ length: 90 }, (_, slot) => [slot, slot % 3 === 2 ? null : slot]));
          expect(sink?.joins).toEqual({ complete: 60, partial: 30, dropped: 0 });
          expect(report.edges.filter((edge) => edge.to === 'sink' && edge.dropped > 0)).toEqual([]);
          return;
        }
        for (const [a, b] of groups) if (a !== null && b !== null) expect(a).toBe(b);
        expectIncreasing(groups.map(([a, b]) => (a ?? b) as number));
      },
    );
  });
}
