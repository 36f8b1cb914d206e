import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { curveClientOptions, curveServerOptions, generateCurveKeys, startZapHandler, type ZapHandler, z85Decode } from './curve.js';

async function receiveWithin(socket: zmq.Router, ms: number): Promise<Buffer[] | undefined> {
  socket.receiveTimeout = ms;
  try {
    return await socket.receive();
  } catch {
    return undefined;
  }
}

describe('CURVE on the data path', () => {
  const sockets: zmq.Socket[] = [];
  let zap: ZapHandler | undefined;
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
    zap?.stop();
    zap = undefined;
  });

  async function server() {
    const keys = generateCurveKeys();
    zap = await startZapHandler(keys.publicKey);
    const router = new zmq.Router({ linger: 0, ...curveServerOptions(keys) });
    sockets.push(router);
    await router.bind('tcp://127.0.0.1:*');
    return { keys, router, endpoint: router.lastEndpoint as string };
  }

  function dealer(options: Partial<zmq.SocketOptions<zmq.Dealer>>, endpoint: string) {
    const socket = new zmq.Dealer({ linger: 0, ...options });
    sockets.push(socket);
    socket.connect(endpoint);
    return socket;
  }

  it('decodes Z85 (RFC 32 test vector)', () => {
    expect(z85Decode('HelloWorld')).toEqual(Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]));
    expect(() => z85Decode('abc')).toThrow(RangeError);
  });

  it('a task of the run (holding the key pair) gets through', async () => {
    const { keys, router, endpoint } = await server();
    await dealer(curveClientOptions(keys), endpoint).send('hello');
    const message = await receiveWithin(router, 5_000);
    expect(message?.[1]?.toString()).toBe('hello');
    expect(zap?.refused).toBe(0);
  });

  it('a peer without CURVE, or with the wrong server key, never delivers a frame', async () => {
    const { router, endpoint } = await server();
    void dealer({}, endpoint).send('plain');
    void dealer(curveClientOptions(generateCurveKeys()), endpoint).send('wrong server key');
    expect(await receiveWithin(router, 1_000)).toBeUndefined();
  });

  it('a peer that knows the public key but not the secret key is refused by ZAP', async () => {
    const { keys, router, endpoint } = await server();
    const own = generateCurveKeys();
    void dealer({ curveServerKey: keys.publicKey, curvePublicKey: own.publicKey, curveSecretKey: own.secretKey }, endpoint).send('forged');
    expect(await receiveWithin(router, 1_000)).toBeUndefined();
    expect(zap?.refused).toBeGreaterThan(0);
  });
});
