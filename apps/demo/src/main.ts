/**
 * The vf demo, first cut: a small flow run in this process that prints its bottleneck table.
 * Two producers are joined by origin, squared in two replicas, summed by a stateful aggregator,
 * and printed. Video, detection and the multi-process engines join as their issues land.
 */
import { fileURLToPath } from 'node:url';
import { Flow, InProcessEngine } from '@vf/core';

const flowModule = fileURLToPath(new URL('../flows/squares.ts', import.meta.url));
const flow = await Flow.load(flowModule, { end: Number(process.env.VF_DEMO_END ?? 200) });
await flow.run(new InProcessEngine({ queueSize: 8 }));
const report = await flow.join();
console.log(String(report));
process.exitCode = report.status === 'failed' ? 1 : 0;
