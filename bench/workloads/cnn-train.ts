// cnn-train: training throughput (images/s) of the Keras mnist_transfer_cnn, batch 128, Adam 1e-3,
// random 28x28x1 inputs — graft's default backend (wasm + graft's kernels) vs tfjs `cpu` vs PyTorch.
import * as tf from '@tensorflow/tfjs';
import { useBackend, wasmThreads } from '../../src/backend/index.js';
import { type BenchOptions, CORES, median, round, runPeer, type Side, type Workload, type WorkloadResult } from '../lib.js';
import { buildCnn, CNN_BATCH, randomBatch } from './cnn.js';

/** images/s of `steps` training steps of `batch` images, after one warm-up step. */
async function trainSpeed(
  batch: number,
  steps: number,
  repeats: number,
  warmupBatch: number,
  log: (m: string) => void,
  label: string,
): Promise<Side> {
  const model = buildCnn();
  const warm = randomBatch(warmupBatch);
  await model.trainOnBatch(warm.xs, warm.ys);
  tf.dispose([warm.xs, warm.ys]);
  const { xs, ys } = randomBatch(batch);
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await model.trainOnBatch(xs, ys);
    const s = (performance.now() - t0) / 1000;
    runs.push((batch * steps) / s);
    log(`  ${label} run ${r + 1}/${repeats}: ${round(runs[r])} images/s`);
  }
  tf.dispose([xs, ys]);
  model.dispose();
  return { imagesPerS: round(median(runs)), batch, images: batch * steps, runs: runs.map((v) => round(v)) };
}

export const cnnTrain: Workload = {
  name: 'cnn-train',
  metric: 'imagesPerS',
  describe: 'Keras mnist_transfer_cnn training, batch 128, Adam 1e-3 (images/s, higher is better)',
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    const notes: string[] = [];
    log('cnn-train: graft (wasm)');
    await useBackend('wasm');
    const graft = await trainSpeed(CNN_BATCH, quick ? 2 : 4, quick ? 2 : 5, CNN_BATCH, log, 'graft wasm');
    graft.backend = 'wasm';
    graft.threads = wasmThreads();

    // The cpu backend needs ~1 s per image: a few images are enough for a throughput figure.
    log('cnn-train: tfjs cpu backend (small batch)');
    await useBackend('cpu');
    const cpuBatch = quick ? 8 : 16;
    const cpu = await trainSpeed(cpuBatch, 1, 1, 4, log, 'cpu');
    cpu.backend = 'cpu';
    notes.push(`cpu backend measured on one step of ${cpuBatch} images (it runs ~1 image/s)`);
    await useBackend('wasm');

    log('cnn-train: pytorch peer');
    const extra = quick ? ['--n', '512', '--epochs', '1'] : [];
    const pytorch = runPeer('cnn-train', 'images_per_s', 1, quick ? 1 : 3, extra, log);
    const pytorchAllCores = CORES > 1 ? runPeer('cnn-train', 'images_per_s', CORES, quick ? 1 : 3, extra, log) : pytorch;
    if (pytorch)
      notes.push("pytorch uses 1 thread and pytorchAllCores every core; graft's wasm runs the threads --threads asks for (default 1)");

    const g = graft.imagesPerS as number;
    const ratio: Record<string, number | boolean | null> = {
      vsPytorch: pytorch ? round(g / (pytorch.imagesPerS as number)) : null,
      vsPytorchAllCores: pytorchAllCores ? round(g / (pytorchAllCores.imagesPerS as number)) : null,
      vsCpu: round(g / (cpu.imagesPerS as number)),
      // The bar: graft within 3x of PyTorch CPU time, against the faster PyTorch configuration.
      withinBar: pytorch ? g >= Math.max(pytorch.imagesPerS as number, (pytorchAllCores?.imagesPerS as number) ?? 0) / 3 : null,
    };
    return { name: 'cnn-train', metric: 'imagesPerS', graft, cpu, pytorch, pytorchAllCores, ratio, notes };
  },
};
