import { defineFlow, Flow } from '../../index.js';
import { DelayedIdentity, LoggedFileAppender, LoggedIntProducer } from './fixtureNodes.js';

/** An endless paced counter through a replicated identity into a file; every close() is logged. */
export default defineFlow((params: { out: string; closeLog: string; fps: number }) => {
  const numbers = new LoggedIntProducer(0, Number.POSITIVE_INFINITY, { name: 'ticker', fps: params.fps });
  numbers.closeLog = params.closeLog;
  const identity = new DelayedIdentity(0, params.closeLog, { name: 'identity', nbTasks: 2 }).from(numbers);
  const sink = new LoggedFileAppender(params.out, { name: 'sink' });
  sink.closeLog = params.closeLog;
  sink.from(identity);
  return new Flow([numbers], [sink]);
});
