import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceAllocator } from '../contracts/deviceAllocator.js';
import type { ExecutionEngine } from '../contracts/engine.js';
import { AllocationError, FlowValidationError, isVfError } from '../errors.js';
import { InProcessEngine } from '../inProcess/inProcessEngine.js';
import { IntProducer } from '../library/intProducer.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import { ProcessorNode } from '../nodes/processorNode.js';
import { ProducerNode } from '../nodes/producerNode.js';
import { defineFlow, isFlowDefinition } from './defineFlow.js';
import { Flow, type RunOptions } from './flow.js';

const linearFixture = new URL('../testing/flows/linear.ts', import.meta.url);

class Collect extends ConsumerNode<[unknown]> {
  readonly items: unknown[] = [];

  consume(value: unknown) {
    this.items.push(value);
  }
}

/** Records whether its task ever opened or produced. */
class Recording extends ProducerNode<number> {
  opened = false;
  produced = false;

  override open() {
    this.opened = true;
  }

  *produce() {
    this.produced = true;
    yield 1;
  }
}

class GpuOnly extends ProcessorNode<[number], number> {
  override get requiresGpu(): boolean {
    return true;
  }

  process(value: number) {
    return value;
  }
}

function tinyFlow(end = 2): { flow: Flow; sink: Collect } {
  const numbers = new IntProducer(0, end, { name: 'numbers' });
  const sink = new Collect({ name: 'sink' }).from(numbers);
  return { flow: new Flow([numbers], [sink]), sink };
}

/** Awaits `promise`, expecting it to reject with a FlowValidationError of `code`. */
async function expectRejection(promise: Promise<unknown>, code: string): Promise<FlowValidationError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(FlowValidationError);
  expect(isVfError(error)).toBe(true);
  expect((error as FlowValidationError).code).toBe(code);
  return error as FlowValidationError;
}

describe('Flow lifecycle', () => {
  it('join() before run() rejects with INVALID_STATE', async () => {
    const { flow } = tinyFlow();
    const error = await expectRejection(flow.join(), 'INVALID_STATE');
    expect(error.message).toContain('run()');
  });

  it('run() twice rejects with INVALID_STATE, and the first run still completes', async () => {
    const { flow, sink } = tinyFlow();
    await flow.run(new InProcessEngine());
    await expectRejection(flow.run(new InProcessEngine()), 'INVALID_STATE');
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(sink.items).toEqual([0, 1, 2]);
    // And after the end it still cannot run again.
    await expectRejection(flow.run(new InProcessEngine()), 'INVALID_STATE');
  });

  it('run() while a run is starting rejects with INVALID_STATE', async () => {
    const { flow } = tinyFlow();
    const first = flow.run(new InProcessEngine());
    await expectRejection(flow.run(new InProcessEngine()), 'INVALID_STATE');
    await first;
    expect((await flow.join()).status).toBe('completed');
  });

  it('run() with something that is not an engine, or bad run options, rejects with INVALID_OPTION; the flow can still run', async () => {
    const { flow, sink } = tinyFlow();
    const error = await expectRejection(flow.run({} as ExecutionEngine), 'INVALID_OPTION');
    expect(error.message).toMatch(/^flow\.run\(\): the engine must be an ExecutionEngine .*allocateAndRunTasks/);
    expect(error.details).toMatchObject({ option: 'engine' });
    await expectRejection(flow.run(undefined as unknown as ExecutionEngine), 'INVALID_OPTION');
    await expectRejection(flow.run(new InProcessEngine(), { handleSigint: 'no' } as unknown as RunOptions), 'INVALID_OPTION');
    await expectRejection(flow.run(new InProcessEngine(), { deviceAllocator: {} } as unknown as RunOptions), 'INVALID_OPTION');
    await flow.run(new InProcessEngine());
    expect((await flow.join()).status).toBe('completed');
    expect(sink.items).toEqual([0, 1, 2]);
  });

  it('run() with a key that is not an option (a typo like metricz), or a bad log option, rejects with INVALID_OPTION naming it; the flow can still run', async () => {
    const { flow, sink } = tinyFlow();
    const run = (options: unknown) => flow.run(new InProcessEngine(), { handleSigint: false, ...(options as object) } as RunOptions);
    const typo = await expectRejection(run({ metricz: { port: 0 } }), 'INVALID_OPTION');
    expect(typo.message).toBe(
      'flow.run(): metricz is not an option (the options are deviceAllocator, handleSigint, log, metrics), got an object',
    );
    expect(typo.details).toMatchObject({ option: 'metricz' });
    expect((await expectRejection(run({ log: { levl: 'debug' } }), 'INVALID_OPTION')).details).toMatchObject({ option: 'log.levl' });
    expect((await expectRejection(run({ log: { destination: 'stdout' } }), 'INVALID_OPTION')).details).toMatchObject({
      option: 'log.destination',
    });
    expect((await expectRejection(run({ metrics: { port: 0, hots: '::1' } }), 'INVALID_OPTION')).details).toMatchObject({
      option: 'metrics.hots',
    });
    expect(flow.metricsUrl).toBeUndefined();
    await flow.run(new InProcessEngine(), { handleSigint: false });
    expect((await flow.join()).status).toBe('completed');
    expect(sink.items).toEqual([0, 1, 2]);
  });

  it('join() returns the same report when called twice', async () => {
    const { flow } = tinyFlow();
    await flow.run(new InProcessEngine());
    const [first, second] = await Promise.all([flow.join(), flow.join()]);
    expect(second).toBe(first);
  });

  it('stop() before run() still stops an endless flow once it runs', async () => {
    const numbers = new IntProducer(0, Number.POSITIVE_INFINITY, { name: 'endless' });
    const sink = new Collect({ name: 'sink' }).from(numbers);
    const flow = new Flow([numbers], [sink]);
    flow.stop();
    await flow.run(new InProcessEngine());
    const report = await flow.join();
    expect(report.status).toBe('stopped');
    // The producer may get an item out before the stop reaches it, but no more than a queue's worth.
    expect(sink.items.length).toBeLessThan(10);
    expect(sink.items).toEqual(sink.items.map((_, index) => index));
  });

  it('a GPU-only node with the default allocator: run() rejects with AllocationError before anything starts; the flow can run later', async () => {
    const source = new Recording({ name: 'source' });
    const detector = new GpuOnly({ name: 'detector', deviceType: 'gpu' }).from(source);
    const sink = new Collect({ name: 'sink' }).from(detector);
    const flow = new Flow([source], [sink]);
    const sigintListeners = process.listenerCount('SIGINT');

    const running = flow.run(new InProcessEngine());
    // A join() while that run() is starting waits for it, and then says why there is no run to join.
    const joining = flow.join().then(
      () => undefined,
      (reason: unknown) => reason,
    );
    const error = await running.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    const joinError = await joining;
    expect(joinError).toBeInstanceOf(FlowValidationError);
    expect((joinError as FlowValidationError).code).toBe('INVALID_STATE');
    expect((joinError as FlowValidationError).message).toContain('flow.run() failed before the flow started');
    expect((joinError as FlowValidationError).cause).toBe(error);
    expect(error).toBeInstanceOf(AllocationError);
    expect(isVfError(error)).toBe(true);
    expect((error as AllocationError).code).toBe('NO_GPU');
    expect((error as AllocationError).message).toContain('"detector"');
    expect(source.opened).toBe(false);
    expect(source.produced).toBe(false);
    expect(process.listenerCount('SIGINT')).toBe(sigintListeners);
    // Nothing started, so there is nothing to join.
    await expectRejection(flow.join(), 'INVALID_STATE');

    // The flow is still unstarted: it can run with an allocator that has a GPU.
    const withGpu: DeviceAllocator = {
      allocate: (planned) =>
        planned.map((entry) =>
          Array.from({ length: entry.nbTasks }, () => ({ device: entry.requiresGpu ? ('gpu:0' as const) : ('cpu' as const), env: {} })),
        ),
    };
    await flow.run(new InProcessEngine(), { deviceAllocator: withGpu });
    const report = await flow.join();
    expect(report.status).toBe('completed');
    expect(source.produced).toBe(true);
    expect(sink.items).toEqual([1]);
    expect(report.nodes.find((entry) => entry.name === 'detector')?.device).toEqual(['gpu:0']);
  });

  it('a run removes its SIGINT handler when it ends', async () => {
    const before = process.listenerCount('SIGINT');
    const { flow } = tinyFlow();
    await flow.run(new InProcessEngine());
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    await flow.join();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('handleSigint: false installs no SIGINT handler', async () => {
    const before = process.listenerCount('SIGINT');
    const { flow } = tinyFlow();
    await flow.run(new InProcessEngine(), { handleSigint: false });
    expect(process.listenerCount('SIGINT')).toBe(before);
    await flow.join();
  });
});

describe('Flow.load', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-flow-load-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['a function', { transform: () => 1 }, 'params.transform'],
    ['a Date', { when: new Date(0) }, 'params.when'],
    ['NaN', { values: [1, Number.NaN] }, 'params.values[1]'],
    ['Infinity', Number.POSITIVE_INFINITY, 'params'],
    ['a Map', { lookup: new Map() }, 'params.lookup'],
  ])('rejects params holding %s with INVALID_OPTION naming where', async (_label, params, path) => {
    const error = await expectRejection(Flow.load(linearFixture, params), 'INVALID_OPTION');
    expect(error.message).toContain(path);
    expect(error.details.path).toBe(path);
  });

  it('rejects circular params with INVALID_OPTION naming where the cycle closes', async () => {
    const params: Record<string, unknown> = { video: { path: 'in.mp4' } };
    (params.video as Record<string, unknown>).owner = params;
    const error = await expectRejection(Flow.load(linearFixture, params), 'INVALID_OPTION');
    expect(error.message).toBe('flow params must be JSON-serialisable: params.video.owner is circular (it contains itself)');
    expect(error.details.path).toBe('params.video.owner');
  });

  it('rejects params nested 20,000 deep with INVALID_OPTION (JSON cannot carry them to the tasks)', async () => {
    let params: unknown = 0;
    for (let depth = 0; depth < 20_000; depth++) params = { next: params };
    const error = await expectRejection(Flow.load(linearFixture, params), 'INVALID_OPTION');
    expect(error.message).toMatch(/nested deeper than 1000 levels/);
  });

  it('accepts the same object twice in params when it is not circular', async () => {
    const shared = { end: 3 };
    const flow = await Flow.load(linearFixture, { ...shared, out: join(dir, 'unused.jsonl'), copies: [shared, shared] });
    expect(flow).toBeInstanceOf(Flow);
  });

  it('checks params before importing the module', async () => {
    await expectRejection(Flow.load(join(dir, 'missing.mjs'), { fn: () => 0 }), 'INVALID_OPTION');
  });

  it('rejects a module whose default export is not defineFlow with INVALID_FLOW_MODULE', async () => {
    const file = join(dir, 'not-a-flow.mjs');
    await writeFile(file, 'export default function create() { return null; }\n');
    try {
      const error = await expectRejection(Flow.load(file), 'INVALID_FLOW_MODULE');
      expect(error.message).toContain('defineFlow');
      expect(error.message).toContain('not-a-flow.mjs');
    } finally {
      await rm(file, { force: true });
    }
  });

  it('rejects a module without a default export, a missing module, and a factory that returns no Flow', async () => {
    const noDefault = join(dir, 'no-default.mjs');
    await writeFile(noDefault, 'export const flow = 1;\n');
    const notAFlow = join(dir, 'returns-number.mjs');
    // The definition's brand is a global symbol, so it can be made without importing vf.
    await writeFile(notAFlow, "export default { [Symbol.for('vf.flowDefinition')]: true, create: () => 42 };\n");
    try {
      await expectRejection(Flow.load(noDefault), 'INVALID_FLOW_MODULE');
      await expectRejection(Flow.load(join(dir, 'does-not-exist.mjs')), 'INVALID_FLOW_MODULE');
      const error = await expectRejection(Flow.load(pathToFileURL(notAFlow)), 'INVALID_FLOW_MODULE');
      expect(error.message).toContain('did not return a Flow');
    } finally {
      await rm(noDefault, { force: true });
      await rm(notAFlow, { force: true });
    }
  });

  it.each([
    ['a URL', () => linearFixture],
    ['a URL string', () => linearFixture.href],
    ['a plain filesystem path', () => fileURLToPath(linearFixture)],
  ])('loads a flow module from %s and passes it the params', async (_label, where) => {
    const params = { end: 3, out: join(dir, 'unused.jsonl'), nbTasks: 2 };
    const flow = await Flow.load(where(), params);
    expect(flow).toBeInstanceOf(Flow);
    expect(flow.nodes.map((node) => node.name)).toEqual(['numbers', 'identity', 'sink']);
    expect(flow.nodes[1]?.nbTasks).toBe(2);
    expect(flow.source).toEqual({ moduleUrl: linearFixture.href, params });
  });

  it('a flow built with new Flow has no source', () => {
    expect(tinyFlow().flow.source).toBeUndefined();
  });
});

describe('defineFlow', () => {
  it('marks the factory so that isFlowDefinition recognises it', () => {
    const definition = defineFlow(() => tinyFlow().flow);
    expect(isFlowDefinition(definition)).toBe(true);
    expect(Object.isFrozen(definition)).toBe(true);
    expect(isFlowDefinition(() => tinyFlow().flow)).toBe(false);
    expect(isFlowDefinition(null)).toBe(false);
  });

  it('rejects a non-function factory', () => {
    expect(() => defineFlow(42 as unknown as () => Flow)).toThrow(TypeError);
  });
});
