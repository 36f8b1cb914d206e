import { writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { ConsumerNode, defineFlow, Flow, ProducerNode } from '@vf/core';

/** What a task saw: whether its TLS connection verified, and its environment's CA settings. */
export interface TlsProbeResult {
  readonly authorized: boolean;
  readonly authorizationError: string | null;
  readonly extraCaCerts: string | null;
  readonly hostExtraCaCerts: string | null;
}

/** Connects to `localhost:port` over TLS with Node's default trust store, once. */
class TlsProbe extends ProducerNode<TlsProbeResult> {
  constructor(private readonly port: number) {
    super({ name: 'probe' });
  }

  async *produce() {
    const socket = connect({ host: '127.0.0.1', port: this.port, servername: 'localhost', rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    const result: TlsProbeResult = {
      authorized: socket.authorized,
      authorizationError: socket.authorized ? null : String(socket.authorizationError),
      extraCaCerts: process.env.NODE_EXTRA_CA_CERTS ?? null,
      hostExtraCaCerts: process.env.VF_HOST_NODE_EXTRA_CA_CERTS ?? null,
    };
    socket.destroy();
    yield result;
  }
}

class WriteResult extends ConsumerNode<[TlsProbeResult]> {
  constructor(private readonly out: string) {
    super({ name: 'result' });
  }

  consume(result: TlsProbeResult): void {
    writeFileSync(this.out, JSON.stringify(result));
  }
}

/** probe → result: a task's TLS connection to a server on this host, checked with the task's own trust store. */
export default defineFlow((params: { port: number; out: string }) => {
  const probe = new TlsProbe(params.port);
  const result = new WriteResult(params.out).from(probe);
  return new Flow([probe], [result]);
});
