/**
 * The vf demo, first cut: a small flow, one OS process per task wired by ZeroMQ (the batch engine),
 * that prints its bottleneck table. Two producers are joined by origin, squared by two replicas,
 * summed by a stateful aggregator, and printed. Video and detection join as their issues land.
 *
 * Environment: VF_DEMO_END (last number, default 200), VF_DEMO_ENGINE (`batch` or `inprocess`).
 */
import { fileURLToPath } from 'node:url';
import { type ExecutionEngine, Flow, InProcessEngine } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';

const flowModule = fileURLToPath(new URL('../flows/squares.ts', import.meta.url));
const flow = await Flow.load(flowModule, { end: Number(process.env.VF_DEMO_END ?? 200) });
const engine: ExecutionEngine =
  process.env.VF_DEMO_ENGINE === 'inprocess' ? new InProcessEngine({ queueSize: 8 }) : new BatchExecutionEngine({ queueSize: 8 });
await flow.run(engine);
const report = await flow.join();
console.log(String(report));
process.exitCode = report.status === 'failed' ? 1 : 0;
