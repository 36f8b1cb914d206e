import { Flow } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { readFileSync } from 'node:fs';
const out = `/tmp/small-${process.pid}.json`;
const flow = await Flow.load(new URL('/work/main/bench/flows/throughput.ts', 'file:'), { count: 100000, payload: 'small', identities: 1, nbTasks: 1, out });
await flow.run(new BatchExecutionEngine({ queueSize: Number(process.env.Q ?? 16) }));
const r = await flow.join();
const t = JSON.parse(readFileSync(out, 'utf8'));
console.log(r.status, ((t.count - 1) / ((t.last - t.first) / 1000)).toFixed(0), 'msg/s');
