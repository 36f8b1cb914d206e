/**
 * `pnpm bench` (second part): TensorFlow.js in a task. How long `loadTensorflow()` takes, and
 * per-op times of each backend that loads here, as ratios to the pure-JS `cpu` backend measured in
 * this same run: a conv2d (1×224×224×3 input, 3×3×3×16 filter) and `EdgeDetector` on a 720p frame.
 */
import { EdgeDetector, loadTensorflow } from '@vf/gpu';

const scale = Number(process.env.VF_BENCH_SCALE ?? 1);
const loaded = await loadTensorflow();
const { tf } = loaded;
console.log(`loadTensorflow(): ${loaded.package} on ${loaded.backend} in ${loaded.loadMs.toFixed(0)} ms — ${loaded.reason}`);

/** Mean ms per call of `run` after two warm-up calls. */
async function timePerCall(run: () => Promise<unknown>, calls: number): Promise<number> {
  await run();
  await run();
  const started = performance.now();
  for (let index = 0; index < calls; index++) await run();
  return (performance.now() - started) / calls;
}

const width = 1280;
const height = 720;
const frame = { width, height, data: new Uint8Array(width * height * 3).map((_, index) => (index * 31) & 0xff) };
const backends = [...new Set([loaded.backend, 'wasm', 'cpu'])].filter((name) => tf.findBackendFactory(name) !== null);
const results: { backend: string; conv: number; edges: number }[] = [];
for (const backend of backends) {
  await tf.setBackend(backend);
  const input = tf.randomUniform([1, 224, 224, 3]) as ReturnType<typeof tf.tensor4d>;
  const filter = tf.randomUniform([3, 3, 3, 16]) as ReturnType<typeof tf.tensor4d>;
  const conv = await timePerCall(
    async () => {
      const output = tf.conv2d(input, filter, 1, 'same');
      await output.data();
      output.dispose();
    },
    Math.max(3, Math.round(30 * scale)),
  );
  tf.dispose([input, filter]);
  const detector = new EdgeDetector();
  await detector.open();
  const edges = await timePerCall(() => detector.process(frame), Math.max(2, Math.round(10 * scale)));
  detector.close();
  results.push({ backend, conv, edges });
}
const cpu = results.find((result) => result.backend === 'cpu');
for (const { backend, conv, edges } of results) {
  const ratio = (base: number | undefined, value: number) => (base === undefined ? '' : `${(base / value).toFixed(1)}× cpu`);
  console.log(
    `tfjs ${backend.padEnd(10)} conv2d 224×224×3→16: ${conv.toFixed(2).padStart(7)} ms ${ratio(cpu?.conv, conv).padStart(9)}   ` +
      `EdgeDetector 720p: ${edges.toFixed(1).padStart(7)} ms (${(1000 / edges).toFixed(1)} fps) ${ratio(cpu?.edges, edges).padStart(9)}`,
  );
}
