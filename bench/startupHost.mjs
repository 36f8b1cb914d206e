// `node startupHost.mjs <flow module URL> <runs>`: the start-up benchmark with vf built (dist/), as
// an installed package runs it. Prints the times from flow.run() to the first consumed message, in ms.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flow } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';

const [flowUrl, runs] = process.argv.slice(2);
const times = [];
for (let run = 0; run < Number(runs); run++) {
  const out = join(tmpdir(), `vf-bench-startup-${process.pid}-${run}.json`);
  const flow = await Flow.load(flowUrl, { count: 10, payload: 'small', identities: 3, nbTasks: 1, out });
  const runAt = Date.now();
  await flow.run(new BatchExecutionEngine());
  const report = await flow.join();
  if (report.status !== 'completed') throw new Error(`start-up flow ${report.status}: ${report.error?.message}`);
  times.push(Number(readFileSync(`${out}.first`, 'utf8')) - runAt);
  rmSync(out, { force: true });
  rmSync(`${out}.first`, { force: true });
}
console.log(times.map((time) => time.toFixed(1)).join(','));
