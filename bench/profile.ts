// Where does a training step of the Keras MNIST CNN spend its time on wasm?
//   npx tsx bench/profile.ts [--steps N] [--no-replace]
// Times every top-level kernel of N training steps with tf.profile (kernels that graft's kernels call
// internally are included in their caller's time).
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '../src/backend/kernels/index.js';
import { buildCnn, CNN_BATCH, randomBatch } from './workloads/cnn.js';

const args = process.argv.slice(2);
const steps = Number(args[args.indexOf('--steps') + 1] ?? 5) || 5;

await useBackend('wasm');
if (args.includes('--no-replace')) unregisterWasmTrainingKernels({ onlyReplaced: true });
else registerWasmTrainingKernels();

const model = buildCnn();
const { xs, ys } = randomBatch(CNN_BATCH);
await model.trainOnBatch(xs, ys); // warm-up
const t0 = performance.now();
for (let i = 0; i < steps; i++) await model.trainOnBatch(xs, ys);
const stepMs = (performance.now() - t0) / steps;

const info = await tf.profile(async () => {
  for (let i = 0; i < steps; i++) await model.trainOnBatch(xs, ys);
});
const byKernel = new Map<string, { ms: number; n: number; shapes: string }>();
for (const k of info.kernels) {
  const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  const key = k.name;
  const e = byKernel.get(key) ?? { ms: 0, n: 0, shapes: '' };
  e.ms += ms;
  e.n++;
  if (e.shapes.length < 120) e.shapes += ` ${JSON.stringify(k.inputShapes)}`;
  byKernel.set(key, e);
}
const total = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
console.log(
  `step ${stepMs.toFixed(1)} ms (${((CNN_BATCH / stepMs) * 1000).toFixed(0)} images/s); kernel time per step ${(total / steps).toFixed(1)} ms`,
);
for (const [name, e] of [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
  console.log(
    `${name.padEnd(36)} ${(e.ms / steps).toFixed(2).padStart(8)} ms/step ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  x${e.n / steps} ${e.shapes.slice(0, 110)}`,
  );
}
