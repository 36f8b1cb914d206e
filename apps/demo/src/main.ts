/**
 * The vf demo, first cut: a small flow, one OS process per task wired by ZeroMQ (the batch engine),
 * that prints its bottleneck table. Two producers are joined by origin, squared by two replicas,
 * summed by a stateful aggregator, and printed. Video and detection join as their issues land.
 *
 * Environment: VF_DEMO_END (last number, default 200), VF_DEMO_ENGINE (`batch`, `realtime` or `inprocess`).
 */
import { fileURLToPath } from 'node:url';
import { type ExecutionEngine, Flow, InProcessEngine } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { RealtimeExecutionEngine } from '@vf/engine-realtime';

const flowModule = fileURLToPath(new URL('../flows/squares.ts', import.meta.url));
const flow = await Flow.load(flowModule, { end: Number(process.env.VF_DEMO_END ?? 200) });
const engines: Record<string, () => ExecutionEngine> = {
  batch: () => new BatchExecutionEngine({ queueSize: 8 }),
  realtime: () => new RealtimeExecutionEngine(),
  inprocess: () => new InProcessEngine({ queueSize: 8 }),
};
const engineName = process.env.VF_DEMO_ENGINE ?? 'batch';
const createEngine = engines[engineName];
if (createEngine === undefined) {
  console.error(`VF_DEMO_ENGINE must be one of ${Object.keys(engines).join(', ')}, got "${engineName}"`);
  process.exit(2);
}
const engine = createEngine();
await flow.run(engine);
const report = await flow.join();
console.log(String(report));
process.exitCode = report.status === 'failed' ? 1 : 0;
