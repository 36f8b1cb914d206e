import { defineFlow, Flow } from '../../index.js';
import { FailingOpen, LoggedFileAppender, LoggedIntProducer } from './fixtureNodes.js';

/** A counter into a node whose open() throws, into a file; every close() is logged. */
export default defineFlow((params: { out: string; closeLog: string }) => {
  const numbers = new LoggedIntProducer(0, 99, { name: 'numbers' });
  numbers.closeLog = params.closeLog;
  const loader = new FailingOpen(0, params.closeLog, { name: 'loader' }).from(numbers);
  const sink = new LoggedFileAppender(params.out, { name: 'sink' });
  sink.closeLog = params.closeLog;
  sink.from(loader);
  return new Flow([numbers], [sink]);
});
