import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOST_EXTRA_CA_CERTS_ENV, trimmedExtraCaCertsEnv } from './extraCaCerts.js';

/** Node's bundled root `index`, as a PEM block. */
const root = (index: number) => rootCertificates[index] as string;

/** A certificate Node does not bundle: one of Node's roots with its body altered (never parsed here). */
const foreign = (tag: string) => root(0).replace(/\n[A-Za-z0-9+/]{8}/, `\n${tag.padEnd(8, 'A').slice(0, 8)}`);

describe('trimmedExtraCaCertsEnv', () => {
  let dir: string;
  let runDir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vf-extra-ca-unit-'));
    runDir = mkdtempSync(join(tmpdir(), 'vf-extra-ca-run-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  });

  const bundle = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('keeps, in their order, only the certificates Node does not bundle, whatever their line breaks', async () => {
    const rewrapped = root(2)
      .replace(/\n/g, '')
      .replace(/(.{76})/g, '$1\n');
    const file = bundle('mixed.pem', `# comments pass\n${[root(1), foreign('first'), rewrapped, foreign('second'), root(3)].join('\n')}\n`);
    const env = await trimmedExtraCaCertsEnv(runDir, { NODE_EXTRA_CA_CERTS: file });
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: join(runDir, 'extra-ca-certs.pem'), [HOST_EXTRA_CA_CERTS_ENV]: file });
    expect(readFileSync(env.NODE_EXTRA_CA_CERTS as string, 'utf8')).toBe(`${foreign('first')}\n${foreign('second')}\n`);
  });

  it('starts tasks with no file when Node bundles every certificate of it', async () => {
    const file = bundle('bundled.pem', rootCertificates.slice(0, 4).join('\n'));
    expect(await trimmedExtraCaCertsEnv(runDir, { NODE_EXTRA_CA_CERTS: file })).toEqual({
      NODE_EXTRA_CA_CERTS: '',
      [HOST_EXTRA_CA_CERTS_ENV]: file,
    });
  });

  it('reads the file again once it changed', async () => {
    const file = bundle('changing.pem', root(0));
    expect((await trimmedExtraCaCertsEnv(runDir, { NODE_EXTRA_CA_CERTS: file })).NODE_EXTRA_CA_CERTS).toBe('');
    writeFileSync(file, `${root(0)}\n${foreign('added')}\n`);
    const env = await trimmedExtraCaCertsEnv(runDir, { NODE_EXTRA_CA_CERTS: file });
    expect(readFileSync(env.NODE_EXTRA_CA_CERTS as string, 'utf8')).toBe(`${foreign('added')}\n`);
  });

  it('leaves the setting alone where trimming could change what tasks trust or report', async () => {
    const withKey = bundle('key.pem', `${foreign('x')}\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`);
    const trusted = bundle('trusted.pem', `-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED CERTIFICATE-----\n${root(0)}\n`);
    const empty = bundle('empty.pem', '');
    const plain = bundle('plain.pem', root(0));
    for (const env of [
      {},
      { NODE_EXTRA_CA_CERTS: '' },
      { NODE_EXTRA_CA_CERTS: join(dir, 'missing.pem') },
      { NODE_EXTRA_CA_CERTS: withKey },
      { NODE_EXTRA_CA_CERTS: trusted },
      { NODE_EXTRA_CA_CERTS: empty },
      // OpenSSL's store, not Node's bundled roots: a bundled root may be missing from it.
      { NODE_EXTRA_CA_CERTS: plain, NODE_OPTIONS: '--max-old-space-size=100 --use-openssl-ca' },
    ]) {
      expect(await trimmedExtraCaCertsEnv(runDir, env), JSON.stringify(env)).toEqual({});
    }
  });
});
