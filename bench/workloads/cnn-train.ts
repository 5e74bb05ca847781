// cnn-train: training throughput (images/s) of the Keras mnist_transfer_cnn, batch 128, Adam 1e-3,
// random 28x28x1 inputs — graft's default training engine (ONNX Runtime, every core) vs the same
// steps in TF.js (wasm + graft's kernels, and tfjs `cpu`) vs PyTorch.
import * as tf from '@tensorflow/tfjs';
import { useBackend, wasmThreads } from '../../src/backend/index.js';
import { type BenchOptions, CORES, median, round, runPeer, type Side, type Workload, type WorkloadResult } from '../lib.js';
import { OnnxTrainer } from '../../src/engine/onnx-train.js';
import { buildCnn, CNN_BATCH, randomBatch } from './cnn.js';

/** The same steps on graft's ONNX Runtime training engine (dropout included), on `threads` threads. */
async function onnxSpeed(batch: number, steps: number, repeats: number, threads: number, log: (m: string) => void): Promise<Side> {
  const model = buildCnn();
  const trainer = await OnnxTrainer.create(model, { optimizer: { kind: 'adam' }, threads, seed: 0 });
  const { xs, ys } = randomBatch(batch);
  const [x, y] = [xs.dataSync() as Float32Array, Float32Array.from(ys.dataSync())];
  await trainer.train(x, xs.shape, y, 1e-3); // warm-up
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await trainer.train(x, xs.shape, y, 1e-3);
    runs.push((batch * steps) / ((performance.now() - t0) / 1000));
    log(`  graft onnx (${threads} thread${threads > 1 ? 's' : ''}) run ${r + 1}/${repeats}: ${round(runs[r])} images/s`);
  }
  await trainer.release();
  tf.dispose([xs, ys]);
  model.dispose();
  return {
    imagesPerS: round(median(runs)),
    batch,
    images: batch * steps,
    runs: runs.map((v) => round(v)),
    backend: 'onnxruntime',
    threads,
  };
}

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
    const [steps, repeats] = quick ? [2, 2] : [4, 5];
    await useBackend('wasm'); // the model is built (and its weights read) in TF.js
    log('cnn-train: graft (ONNX Runtime training engine, every core)');
    const graft = await onnxSpeed(CNN_BATCH, steps, repeats, CORES, log);
    const oneThread = CORES > 1 ? await onnxSpeed(CNN_BATCH, steps, repeats, 1, log) : graft;

    log('cnn-train: graft with --train-engine tfjs (wasm)');
    await useBackend('wasm');
    const wasm = await trainSpeed(CNN_BATCH, steps, repeats, CNN_BATCH, log, 'graft wasm');
    wasm.backend = 'wasm';
    wasm.threads = wasmThreads();

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
    if (pytorch) notes.push('pytorch uses 1 thread and pytorchAllCores every core; graft (ONNX Runtime) every core, graftOneThread 1');

    const g = graft.imagesPerS as number;
    const best = Math.max((pytorch?.imagesPerS as number) ?? 0, (pytorchAllCores?.imagesPerS as number) ?? 0);
    const ratio: Record<string, number | boolean | null> = {
      vsPytorch: pytorch ? round(g / (pytorch.imagesPerS as number)) : null,
      vsPytorchAllCores: pytorchAllCores ? round(g / (pytorchAllCores.imagesPerS as number)) : null,
      oneThreadVsPytorch: pytorch ? round((oneThread.imagesPerS as number) / (pytorch.imagesPerS as number)) : null,
      vsWasm: round(g / (wasm.imagesPerS as number)),
      vsCpu: round(g / (cpu.imagesPerS as number)),
      // The bar (issue 20): at least 0.8x the faster PyTorch configuration.
      withinBar: pytorch ? g >= 0.8 * best : null,
    };
    return {
      name: 'cnn-train',
      metric: 'imagesPerS',
      graft,
      cpu,
      pytorch,
      pytorchAllCores,
      others: { graftOneThread: oneThread, wasm },
      ratio,
      notes,
    };
  },
};
