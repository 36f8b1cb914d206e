import { readFileSync, rmSync } from 'node:fs';
import { Flow } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';

const shared = process.env.SHM !== '0';
const out = `/tmp/shmbench/chain-${process.pid}.json`;
const flow = await Flow.load(new URL('./flows/throughput.ts', import.meta.url), {
  count: 150,
  payload: 'frame',
  identities: 1,
  nbTasks: 1,
  out,
});
await flow.run(new BatchExecutionEngine({ queueSize: 16, sharedMemory: shared }));
const report = await flow.join();
const t = JSON.parse(readFileSync(out, 'utf8'));
console.log(shared ? 'shm' : 'inline', report.status, ((t.count - 1) / ((t.last - t.first) / 1000)).toFixed(1), 'fps');
rmSync(out);
rmSync(`${out}.first`);
