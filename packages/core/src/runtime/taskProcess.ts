import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Messenger } from '../contracts/messenger.js';
import { serializeError } from '../errors.js';
import { Flow } from '../flow/flow.js';
import { getLogger, isLogLevelEnabled, RUN_ID_ENV, tagTaskLogs } from '../logging.js';
import { removeSharedDirectory } from '../transport/sharedFrames.js';
import type { ZmqMessenger } from '../transport/zmqMessenger.js';
import { forwardProcessWarnings } from '../warnings.js';
import { importModule, registeredFlowProgram } from './bundledModules.js';
import { type ControlChannel, defaultControlChannel } from './controlChannel.js';
import {
  CONTROL_PROTOCOL_VERSION,
  type HostMessage,
  parseHostMessage,
  type TaskInit,
  type TaskMessage,
  type Unversioned,
} from './controlProtocol.js';
import { TRIMMED_EXTRA_CA_CERTS_FILE } from './extraCaCerts.js';
import { TaskActivity } from './liveness.js';
import { removeRunDirectoryIfEmpty } from './runOwner.js';
import { runTask } from './taskLoop.js';
import { optimizeHotCodeSooner } from './tiering.js';
import { AbortedError, deferred } from './waiting.js';

/** How long a task may take to close its sockets and exit once its parent process is gone. */
const ORPHAN_EXIT_MS = 1500;

type MessengerClass = new (init: TaskInit, signal: AbortSignal, isStopRequested: () => boolean) => ZmqMessenger;

/**
 * The body of a task process: waits for `init` from the host, rebuilds the flow from its module,
 * runs its one task over the engine's messenger, reports `done`, and exits. If the host dies
 * (the control channel closes), the task aborts and exits on its own: no orphans. `program`: the
 * run's compiled task program this process runs (`runtime/taskProgram.ts`), removed by orphans.
 */
export function runTaskProcess(channel: ControlChannel = defaultControlChannel(), program?: string): void {
  const send = (message: Unversioned<TaskMessage>) => channel.send({ v: CONTROL_PROTOCOL_VERSION, ...message });
  // Every task would print the same warnings (the flow module runs in each): the host prints them once.
  forwardProcessWarnings((warning) => send({ type: 'warning', warning }));
  const abort = new AbortController();
  const stop = new AbortController();
  const start = deferred();
  const endpoints = deferred<readonly string[]>();
  abort.signal.addEventListener('abort', () => endpoints.reject(new AbortedError()), { once: true });
  let running = false;
  let messenger: ZmqMessenger | undefined;
  let orphaned = false;
  let socketFile: string | undefined;
  let sharedDirectory: string | undefined;
  /** This task closed the channel itself (it is done): the run goes on, its shared memory with it. */
  let closedChannel = false;
  /** The channel closed under this task: the host is gone. */
  let hostGone = false;
  process.on('exit', () => {
    // Without a host nobody else removes this run's shared memory: every orphan removes it all
    // (segments in flight are of no use to anyone now).
    if (hostGone) removeSharedDirectory(sharedDirectory);
    // Without a host nobody else removes this run's socket files: each orphan removes its own,
    // and the last one out removes the directory (with what every task of the run shares in it).
    if (!orphaned) return;
    const flowProgram = registeredFlowProgram();
    const files = [socketFile, ...[program, flowProgram].flatMap((file) => (file === undefined ? [] : [file, `${file}.map`]))].filter(
      (file) => file !== undefined,
    );
    for (const file of files) rmSync(file, { force: true });
    for (const directory of new Set(files.map((file) => dirname(file)))) {
      rmSync(join(directory, TRIMMED_EXTRA_CA_CERTS_FILE), { force: true });
      // Not empty yet: another task removes it. Its owner file stays until then, for a sweep.
      removeRunDirectoryIfEmpty(directory);
    }
  });
  const finishedPeers: number[] = [];
  const lostPeers: number[] = [];

  const fail = (error: unknown) => {
    send({ type: 'error', error: serializeError(error) });
    abort.abort();
    start.reject(new AbortedError());
  };

  channel.onClose(() => {
    // The host is gone: abort, and make sure the process ends even if a close() hangs.
    orphaned = true;
    if (!closedChannel) hostGone = true;
    abort.abort();
    start.reject(new AbortedError('the host process is gone'));
    setTimeout(() => process.exit(1), ORPHAN_EXIT_MS).unref();
  });

  channel.onMessage((raw: unknown) => {
    let message: HostMessage;
    try {
      message = parseHostMessage(raw);
    } catch (error) {
      fail(error);
      return;
    }
    switch (message.type) {
      case 'init':
        if (running) return fail(new Error('received init twice'));
        running = true;
        execute(message.init).catch(fail);
        break;
      case 'start':
        start.resolve();
        break;
      case 'endpoints':
        endpoints.resolve(message.endpoints);
        break;
      case 'stop':
        stop.abort();
        break;
      case 'peerDone':
        // Kept for later if it ever arrives before the messenger exists (children start after parents connect).
        if (messenger === undefined) finishedPeers.push(message.taskId);
        else messenger.peerFinished(message.taskId);
        break;
      case 'peerLost':
        if (messenger === undefined) lostPeers.push(message.taskId);
        else messenger.peerLost(message.taskId);
        break;
      case 'probe':
        // Before the messenger exists the task waits on nothing the host could lend room to.
        send({ type: 'queues', queues: messenger?.queueWaitWithRooms() ?? { moved: 0 } });
        break;
      case 'lend':
        messenger?.lendRoom();
        break;
      case 'abort':
        abort.abort();
        start.reject(new AbortedError(message.reason));
        break;
    }
  });
  // Before anything can hang (the flow module, open()): a launcher kills a remote task by this pid.
  send({ type: 'hello', pid: process.pid });
  // SIGINT reaches the whole process group on Ctrl-C: the host turns it into a stop; ignore it here.
  process.on('SIGINT', () => undefined);

  async function execute(init: TaskInit): Promise<void> {
    tagTaskLogs({ run: process.env[RUN_ID_ENV] ?? 'none', node: init.task.nodeName, replica: init.task.taskIndex });
    if (isLogLevelEnabled('debug')) getLogger().debug({ pid: process.pid }, 'task process started');
    const endpoint = init.transport.endpoints[init.task.id];
    if (endpoint?.startsWith('ipc://')) socketFile = endpoint.slice('ipc://'.length);
    sharedDirectory = init.sharedMemory?.directory;
    // From here on the host can tell this task frozen from busy (runtime/liveness.ts).
    const activity = new TaskActivity();
    const beating = channel.startHeartbeats?.(init.heartbeatMs, activity);
    const flow = await activity.runNodeCode(() => Flow.load(init.source.moduleUrl, init.source.params));
    const node = flow.nodes[init.task.nodeIndex];
    if (node === undefined || node.name !== init.task.nodeName) {
      throw new Error(
        `the flow module built a different graph in this process: node ${init.task.nodeIndex} is "${node?.name}", expected "${init.task.nodeName}" (flow construction must be deterministic)`,
      );
    }
    const module = (await importModule(init.messenger.moduleUrl)) as Record<string, unknown>;
    const MessengerType = module[init.messenger.exportName] as MessengerClass | undefined;
    if (typeof MessengerType !== 'function') throw new Error(`${init.messenger.moduleUrl} exports no ${init.messenger.exportName}`);
    const taskMessenger = new MessengerType(init, abort.signal, () => stop.signal.aborted);
    messenger = taskMessenger;
    // Bind first and say where (a remote machine picks its own port), then connect once every task has.
    const boundAt = await taskMessenger.bind();
    send({ type: 'bound', ...(boundAt === undefined ? {} : { endpoint: boundAt }) });
    await taskMessenger.connect(await endpoints.promise);
    // Admission runs while open() does; `ready` waits for both (see ZmqMessenger.admitted).
    const admitted = taskMessenger.admitted();
    admitted.catch(() => undefined);
    for (const taskId of finishedPeers) taskMessenger.peerFinished(taskId);
    for (const taskId of lostPeers) taskMessenger.peerLost(taskId);
    // The host watches a task from its first heartbeat on: let it be out before `ready`.
    await beating;
    const outcome = await runTask({
      node,
      spec: init.task,
      messenger: taskMessenger as Messenger,
      signal: AbortSignal.any([stop.signal, abort.signal]),
      onReady: () => {
        admitted.then(
          () => send({ type: 'ready', pid: process.pid }),
          // Aborted or broken: the abort or the error reaches the host on its own path.
          () => undefined,
        );
      },
      start: start.promise,
      onStats: (stats) => send({ type: 'stats', stats, queues: taskMessenger.queueWait() }),
      nodeCode: (call) => activity.runNodeCode(call),
      onFirstItem: optimizeHotCodeSooner,
    });
    await taskMessenger.close(outcome.status === 'completed' || outcome.status === 'stopped');
    send({ type: 'done', outcome });
    closedChannel = true;
    channel.close();
  }
}
