/**
 * `pnpm bench` (third part): `@vf/vision`'s COCO detector (CenterNet, 512×512 input) in ms per
 * 768×576 frame on each TensorFlow.js backend that loads here, as a ratio to the pure-JS `cpu`
 * backend measured in this same run.
 */
import { loadTensorflow } from '@vf/gpu';
import { CocoDetector } from '@vf/vision';

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
