import { defineFlow, Flow } from '../../index.js';
import { FixedDelayIdentity, LoggedIntProducer, SyncFileAppender } from './fixtureNodes.js';

/**
 * An endless, unpaced, synchronous counter (it never awaits) through an identity taking `workMs`
 * per item (0: synchronous too) into a synchronous file sink; every close() is logged. With
 * `workMs: 0` nothing in the flow ever waits on the event loop by itself.
 */
export default defineFlow((params: { out: string; closeLog: string; workMs: number }) => {
  const numbers = new LoggedIntProducer(0, Number.POSITIVE_INFINITY, { name: 'numbers' });
  numbers.closeLog = params.closeLog;
  const identity = new FixedDelayIdentity(params.workMs, params.closeLog, { name: 'identity' }).from(numbers);
  const sink = new SyncFileAppender(params.out, { name: 'sink' });
  sink.closeLog = params.closeLog;
  sink.from(identity);
  return new Flow([numbers], [sink]);
});
