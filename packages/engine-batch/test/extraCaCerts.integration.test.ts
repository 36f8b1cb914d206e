import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer, rootCertificates, type Server } from 'node:tls';
import { Flow } from '@vf/core';
import { forkSpawner, type Spawner, type SpawnRequest } from '@vf/core/engine';
import { findLeftovers } from '@vf/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutionEngine } from '../src/index.js';
import type { TlsProbeResult } from './flows/tlsProbe.js';
import { joinWithin } from './helpers.js';

const tlsProbeUrl = new URL('./flows/tlsProbe.ts', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url), 'utf8');
const testCa = fixture('ca.pem');

/**
 * The host's NODE_EXTRA_CA_CERTS reaches each task trimmed to the certificates Node does not bundle
 * (start-up: Node parses that file in every process it starts). What a task trusts, and what its
 * environment says, must not change.
 */
describe('NODE_EXTRA_CA_CERTS in local tasks (batch engine)', () => {
  let dir: string;
  let server: Server;
  let port: number;
  const hostSetting = process.env.NODE_EXTRA_CA_CERTS;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vf-extra-ca-'));
    server = createServer({ key: fixture('server.key'), cert: fixture('server.pem') }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    if (hostSetting === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = hostSetting;
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the probe flow with `bundle` as the host's NODE_EXTRA_CA_CERTS; what the task saw, and what it was started with. */
  async function probe(bundle: string): Promise<{ result: TlsProbeResult; started: SpawnRequest[]; startedCa: string[] }> {
    const bundleFile = join(dir, 'bundle.pem');
    await writeFile(bundleFile, bundle);
    process.env.NODE_EXTRA_CA_CERTS = bundleFile;
    const started: SpawnRequest[] = [];
    const startedCa: string[] = [];
    const spawner: Spawner = {
      spawn(request) {
        started.push(request);
        const file = request.env.NODE_EXTRA_CA_CERTS;
        startedCa.push(file === undefined || file === '' ? '' : readFileSync(file, 'utf8'));
        return forkSpawner.spawn(request);
      },
    };
    const out = join(dir, 'result.json');
    const flow = await Flow.load(tlsProbeUrl, { port, out });
    const engine = new BatchExecutionEngine({ spawner });
    await flow.run(engine);
    const report = await joinWithin(flow, 60_000);
    expect(report.status).toBe('completed');
    expect(findLeftovers(engine)).toEqual([]);
    // The trimmed file was in the run's directory, gone with it.
    for (const request of started) {
      const file = request.env.NODE_EXTRA_CA_CERTS;
      if (file !== undefined && file !== '') expect(dirname(file)).toBe(engine.socketDirectory);
    }
    return { result: JSON.parse(readFileSync(out, 'utf8')) as TlsProbeResult, started, startedCa };
  }

  it('a task trusts a CA of the bundle that Node does not ship, started with only that one, and sees the host setting', {
    timeout: 60_000,
  }, async () => {
    const bundled = rootCertificates.slice(0, 3);
    // Node's own roots before and after it, one wrapped at 76 columns rather than 64: the same certificate.
    const rewrapped = (rootCertificates[3] as string).replace(/\n/g, '').replace(/(.{76})/g, '$1\n');
    const { result, started, startedCa } = await probe([...bundled, testCa.trim(), rewrapped].join('\n'));
    expect(result).toEqual({ authorized: true, authorizationError: null, extraCaCerts: join(dir, 'bundle.pem'), hostExtraCaCerts: null });
    expect(started).toHaveLength(2);
    expect(startedCa).toEqual([`${testCa.trim()}\n`, `${testCa.trim()}\n`]);
  });

  it('a bundle of only bundled roots: tasks start without one, and still verify against Node roots only', { timeout: 60_000 }, async () => {
    const { result, started } = await probe(rootCertificates.slice(0, 5).join('\n'));
    expect(result).toMatchObject({ authorized: false, extraCaCerts: join(dir, 'bundle.pem'), hostExtraCaCerts: null });
    expect(result.authorizationError).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
    expect(started.map((request) => request.env.NODE_EXTRA_CA_CERTS)).toEqual(['', '']);
  });
});
