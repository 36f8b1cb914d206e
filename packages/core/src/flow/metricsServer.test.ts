import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Flow, type FlowValidationError, InProcessEngine, isVfError, type RunOptions } from '../index.js';
import { IntProducer, VoidConsumer } from '../nodes.js';

function tinyFlow(): Flow {
  const numbers = new IntProducer(0, 2, { name: 'numbers' });
  return new Flow([numbers], [new VoidConsumer({ name: 'sink' }).from(numbers)]);
}

/** Awaits `promise`, expecting a FlowValidationError INVALID_OPTION. */
async function invalidOption(promise: Promise<unknown>): Promise<FlowValidationError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(isVfError(error) && error.code, String(error)).toBe('INVALID_OPTION');
  return error as FlowValidationError;
}

/** Whether this machine can listen on IPv6 loopback. */
const hasIpv6Loopback = await new Promise<boolean>((resolve) => {
  const server = createServer();
  server.once('error', () => resolve(false));
  server.listen(0, '::1', () => server.close(() => resolve(true)));
});

describe('flow.run(engine, { metrics: { host } })', () => {
  const flows: Flow[] = [];
  afterEach(async () => {
    for (const flow of flows.splice(0)) await flow.closeMetrics();
  });

  it.each([
    ['an empty host (it would listen on every interface, at http://:port)', ''],
    ['a bracketed IPv6 address', '[::1]'],
    ['an IPv6 address with a zone', 'fe80::1%lo'],
    ['a name with a space', 'local host'],
    ['a URL', 'http://127.0.0.1'],
    ['a number', 42],
  ])('refuses %s with INVALID_OPTION naming metrics.host, before anything starts', async (_label, host) => {
    const flow = tinyFlow();
    flows.push(flow);
    const options = { metrics: { port: 0, host }, handleSigint: false } as unknown as RunOptions;
    const error = await invalidOption(flow.run(new InProcessEngine(), options));
    expect(error.details).toMatchObject({ option: 'metrics.host' });
    expect(error.message).toContain('metrics.host must be an IP address');
    expect(flow.metricsUrl).toBeUndefined();
    // Nothing started: the flow still runs.
    await flow.run(new InProcessEngine(), { handleSigint: false });
    expect((await flow.join()).status).toBe('completed');
  });

  it('listens on loopback by default, and gives a usable URL for a host name', async () => {
    for (const [host, url] of [
      [undefined, /^http:\/\/127\.0\.0\.1:\d+$/],
      ['localhost', /^http:\/\/localhost:\d+$/],
    ] as const) {
      const flow = tinyFlow();
      flows.push(flow);
      await flow.run(new InProcessEngine(), { metrics: host === undefined ? { port: 0 } : { port: 0, host }, handleSigint: false });
      expect(flow.metricsUrl).toMatch(url);
      const response = await fetch(`${flow.metricsUrl}/healthz`, { signal: AbortSignal.timeout(5_000) });
      expect(await response.text()).toBe('ok\n');
      await flow.join();
    }
  });

  it.skipIf(!hasIpv6Loopback)('writes an IPv6 host in brackets in metricsUrl', async () => {
    const flow = tinyFlow();
    flows.push(flow);
    await flow.run(new InProcessEngine(), { metrics: { port: 0, host: '::1' }, handleSigint: false });
    expect(flow.metricsUrl).toMatch(/^http:\/\/\[::1\]:\d+$/);
    const response = await fetch(`${flow.metricsUrl}/healthz`, { signal: AbortSignal.timeout(5_000) });
    expect(await response.text()).toBe('ok\n');
    await flow.join();
  });
});
