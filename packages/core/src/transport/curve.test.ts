import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import {
  type CurveKeys,
  curveClientOptions,
  curveServerOptions,
  generateCurveKeys,
  startZapHandler,
  type ZapHandler,
  z85Decode,
} from './curve.js';

async function receiveWithin(socket: zmq.Router, ms: number): Promise<Buffer[] | undefined> {
  socket.receiveTimeout = ms;
  try {
    return await socket.receive();
  } catch {
    return undefined;
  }
}

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
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
    await until(() => (zap?.refused ?? 0) > 0, 10_000, 'the ZAP handler to refuse the forged key');
    expect(await receiveWithin(router, 200)).toBeUndefined();
  });

  it('several runs in one process: each socket admits its own run and counts only its own refusals', async () => {
    const runs = [generateCurveKeys(), generateCurveKeys()];
    const handlers = await Promise.all(runs.map((keys) => startZapHandler(keys.publicKey)));
    try {
      const routers = await Promise.all(
        runs.map(async (keys) => {
          const router = new zmq.Router({ linger: 0, ...curveServerOptions(keys) });
          sockets.push(router);
          await router.bind('tcp://127.0.0.1:*');
          return router;
        }),
      );
      const [a, b] = runs as [CurveKeys, CurveKeys];
      const [routerA, routerB] = routers as [zmq.Router, zmq.Router];
      await dealer(curveClientOptions(a), routerA.lastEndpoint as string).send('to a');
      await dealer(curveClientOptions(b), routerB.lastEndpoint as string).send('to b');
      expect((await receiveWithin(routerA, 5_000))?.[1]?.toString()).toBe('to a');
      expect((await receiveWithin(routerB, 5_000))?.[1]?.toString()).toBe('to b');
      // Run b's tasks hold b's key pair, not a's: a's socket refuses them, and the refusal is a's alone.
      void dealer(
        { curveServerKey: a.publicKey, curvePublicKey: b.publicKey, curveSecretKey: b.secretKey },
        routerA.lastEndpoint as string,
      ).send('b into a');
      await until(() => (handlers[0]?.refused ?? 0) > 0, 10_000, 'the ZAP handler of run a to refuse run b');
      expect(handlers[1]?.refused).toBe(0);
      expect(await receiveWithin(routerA, 200)).toBeUndefined();
    } finally {
      for (const handler of handlers) handler.stop();
    }
  });

  it('a handler stopped and started again at once binds every time (30 rounds)', async () => {
    for (let round = 0; round < 30; round++) {
      const { keys, router, endpoint } = await server();
      await dealer(curveClientOptions(keys), endpoint).send(`round ${round}`);
      expect((await receiveWithin(router, 5_000))?.[1]?.toString()).toBe(`round ${round}`);
      for (const socket of sockets.splice(0)) socket.close();
      zap?.stop();
      zap = undefined;
    }
  });
});
