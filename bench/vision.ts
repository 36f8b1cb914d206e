/**
 * `pnpm bench` (third part): `@vf/vision`'s COCO detector (CenterNet, 512×512 input) in ms per
 * 768×576 frame on each TensorFlow.js backend that loads here, as a ratio to the pure-JS `cpu`
 * backend measured in this same run; then the detect → track flow on vtest.avi with 1 and 2
 * detector replicas, as a ratio to 1 replica.
 */
import { Flow } from '@vf/core';
import { BatchExecutionEngine } from '@vf/engine-batch';
import { loadTensorflow } from '@vf/gpu';
import { CocoDetector, realFootage } from '@vf/vision';

const scale = Number(process.env.VF_BENCH_SCALE ?? 1);
const { tf } = await loadTensorflow();
const width = 768;
const height = 576;
const frame = {
  index: 0,
  timestampMs: 0,
  width,
  height,
  channels: 3,
  data: new Uint8Array(width * height * 3).map((_, i) => (i * 31) & 0xff),
};
const backends = [...new Set([tf.getBackend(), 'wasm', 'cpu'])].filter((name) => tf.findBackendFactory(name) !== null);
const results: { backend: string; ms: number }[] = [];
for (const backend of backends) {
  await tf.setBackend(backend);
  const detector = new CocoDetector();
  await detector.open();
  await detector.process(frame); // the first call compiles kernels
  const calls = Math.max(2, Math.round((backend === 'cpu' ? 3 : 10) * scale));
  const started = performance.now();
  for (let call = 0; call < calls; call++) await detector.process(frame);
  results.push({ backend: detector.backend ?? backend, ms: (performance.now() - started) / calls });
  detector.close();
}
const cpu = results.find((result) => result.backend.startsWith('tensorflow.js cpu'));
for (const { backend, ms } of results) {
  const ratio = cpu === undefined ? '' : `${(cpu.ms / ms).toFixed(1)}× cpu`;
  console.log(
    `CocoDetector 768×576 on ${backend.padEnd(36)} ${ms.toFixed(0).padStart(6)} ms/frame (${(1000 / ms).toFixed(1)} fps) ${ratio}`,
  );
}

// End to end on real footage: the flow above on the batch engine with 1 and 2 detector replicas,
// fps counted from flow.run() to the last task's exit (model loading included), ratio to 1 replica.
const footage = await realFootage('vtest.avi');
if ('unavailable' in footage) console.log(`COCO flow on vtest.avi: skipped (${footage.unavailable})`);
else {
  const frames = Math.max(10, Math.round(60 * scale));
  const fps: number[] = [];
  for (const detectorTasks of [1, 2]) {
    const flow = await Flow.load(new URL('./flows/coco.ts', import.meta.url), { input: footage.path, frames, detectorTasks });
    const started = performance.now();
    await flow.run(new BatchExecutionEngine({ queueSize: 4 }));
    const report = await flow.join();
    fps.push(frames / ((performance.now() - started) / 1000));
    console.log(
      `COCO flow on ${frames} frames of vtest.avi, ${detectorTasks} detector replica(s): ${report.status}, ` +
        `${(fps.at(-1) as number).toFixed(2)} fps end to end ${detectorTasks > 1 ? `(${((fps.at(-1) as number) / (fps[0] as number)).toFixed(2)}× 1 replica)` : ''}`,
    );
  }
}
