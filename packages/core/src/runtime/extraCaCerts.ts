import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a local task finds the host's `NODE_EXTRA_CA_CERTS`: the task's preload
 * (`native/taskPreload.cjs`) puts it back in `process.env` before any other code runs, so that the
 * flow's code, and the processes it starts, see the value the host had.
 */
export const HOST_EXTRA_CA_CERTS_ENV = 'VF_HOST_NODE_EXTRA_CA_CERTS';

/** The trimmed bundle's name in the run's directory: a task orphaned by its host removes it with the directory. */
export const TRIMMED_EXTRA_CA_CERTS_FILE = 'extra-ca-certs.pem';

/** Node's variable: a node's own `env` that sets it keeps its value (it is then not the host's to trim). */
export const EXTRA_CA_CERTS_ENV = 'NODE_EXTRA_CA_CERTS';
const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PEM_BEGIN = /-----BEGIN ([^-]+)-----/g;

/** The host's bundle, trimmed, by path, size and change time: one read per host while the file stays the same. */
let trimmed: { readonly key: string; readonly certificates: string | undefined } | undefined;

/**
 * The environment that spares each local task Node's parse of the certificates in the host's
 * `NODE_EXTRA_CA_CERTS` that Node bundles anyway; none when there is nothing to spare.
 *
 * Node 20 reads that file in every process as it starts (not when TLS is first used): it builds its
 * root store from its bundled roots and adds each certificate of the file. Debian's bundle holds 144,
 * 122 of them Node's own roots: that cost each process ~75 ms (against 36 for a bare `node -e 0`;
 * 20 starts each, this 2-core VM), and a flow starts all its tasks at once. A task gets a file in
 * `dir` (the run's directory) with only the certificates Node does not bundle (~77 ms with Debian's
 * bundle and this machine's 22 others), or none at all when every one is bundled: the same root store,
 * since a certificate already in it is not added twice. The file's other certificates keep their
 * order, so a malformed one stops Node's read where it did. Left as it is: a file that holds
 * anything but certificates, or cannot be read (Node warns about it in every task, as before), and
 * `--use-openssl-ca` in `NODE_OPTIONS` (its store is OpenSSL's, not Node's bundled roots).
 */
export async function trimmedExtraCaCertsEnv(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  const path = env[EXTRA_CA_CERTS_ENV];
  if (path === undefined || path === '' || /--use-openssl-ca\b/.test(env.NODE_OPTIONS ?? '')) return {};
  let key: string;
  try {
    const { size, mtimeMs, ctimeMs } = statSync(path);
    key = `${path}\0${size}\0${mtimeMs}\0${ctimeMs}`;
  } catch {
    return {};
  }
  if (trimmed?.key !== key) trimmed = { key, certificates: await notBundledCertificates(path) };
  const { certificates } = trimmed;
  if (certificates === undefined) return {};
  let file = '';
  if (certificates !== '') {
    file = join(dir, TRIMMED_EXTRA_CA_CERTS_FILE);
    try {
      writeFileSync(file, certificates, { mode: 0o600, encoding: 'latin1' });
    } catch {
      return {}; // the tasks read the host's file, as without this
    }
  }
  return { [EXTRA_CA_CERTS_ENV]: file, [HOST_EXTRA_CA_CERTS_ENV]: path };
}

/**
 * The certificates of the PEM file at `path` that Node does not bundle, in their order ('' for none);
 * undefined when the file cannot be read or holds a PEM block of another kind.
 */
async function notBundledCertificates(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
  for (const [, label] of text.matchAll(PEM_BEGIN)) if (label !== 'CERTIFICATE') return undefined;
  const certificates = text.match(CERTIFICATE);
  if (certificates === null) return undefined;
  // The same DER encodes to the same base64, whatever the line breaks around it.
  const body = (pem: string) => pem.slice(27, -25).replace(/\s/g, '');
  const { rootCertificates } = await import('node:tls');
  const bundled = new Set(rootCertificates.map(body));
  const rest = certificates.filter((pem) => !bundled.has(body(pem)));
  return rest.length === 0 ? '' : `${rest.join('\n')}\n`;
}
