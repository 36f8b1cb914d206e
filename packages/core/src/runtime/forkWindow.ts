import type { TaskProcess } from '../contracts/spawner.js';

/** How many times one task is started again after a Ctrl-C caught it at its fork (each Ctrl-C can catch it once). */
const FORK_WINDOW_RESTARTS = 3;

/**
 * Starts a local task with `start()`, and starts it again when a Ctrl-C caught it between its fork
 * and its `setsid`, which is how it would otherwise die of a Ctrl-C meant for the host.
 *
 * A task runs in a session of its own (`detached`), so the terminal's SIGINT reaches the host only,
 * which turns it into a stop. But the child leaves the host's process group only once it runs: in
 * the moments between the fork and its `setsid` (milliseconds on a loaded machine) a SIGINT to the
 * group is held pending in it, and kills it before it runs a line of vf. A task that ends on SIGINT
 * before its first word to the host can only have died that way (once running it ignores SIGINT):
 * it has done nothing yet, so it is started again, and the messages the host sent it are sent
 * again, in order. The host sees one task process whose pid changed.
 */
export function restartedIfCaughtAtFork(start: () => TaskProcess): TaskProcess {
  const messageListeners: Array<(message: unknown) => void> = [];
  const exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];
  // What the host has said to a task that has not spoken yet: the replacement must hear it too.
  const unanswered: unknown[] = [];
  let heard = false;
  let killed = false;
  let restarts = 0;
  let reportedExit: [number | null, NodeJS.Signals | null] | undefined;
  let current: TaskProcess;

  const reportExit = (code: number | null, signal: NodeJS.Signals | null) => {
    reportedExit = [code, signal];
    for (const listener of exitListeners.splice(0)) listener(code, signal);
  };

  const follow = (child: TaskProcess) => {
    current = child;
    child.onMessage((message) => {
      if (child !== current) return;
      heard = true;
      unanswered.length = 0;
      for (const listener of messageListeners) listener(message);
    });
    child.onExit((code, signal) => {
      if (child !== current) return;
      if (signal === 'SIGINT' && !heard && !killed && restarts < FORK_WINDOW_RESTARTS) {
        restarts += 1;
        let replacement: TaskProcess;
        try {
          replacement = start();
        } catch {
          return reportExit(code, signal); // the first death is the one to report
        }
        follow(replacement);
        for (const message of unanswered) replacement.send(message);
        return;
      }
      reportExit(code, signal);
    });
  };
  follow(start());

  return {
    get pid() {
      return current.pid;
    },
    send: (message) => {
      if (!heard) unanswered.push(message);
      return current.send(message);
    },
    onMessage: (listener) => {
      messageListeners.push(listener);
    },
    onExit: (listener) => {
      if (reportedExit === undefined) exitListeners.push(listener);
      else listener(...reportedExit);
    },
    kill: (signal) => {
      killed = true;
      current.kill(signal);
    },
  };
}
