// mobilenet-v2-forward: inference latency (ms/image) of MobileNetV2 224x224x3 (nsfwjs's Keras
// model: graft's `mobilenet_v2` base), batch 32 — wasm vs tfjs `cpu` (small batch) vs PyTorch.
import * as tf from '@tensorflow/tfjs';
import { useBackend, wasmThreads } from '../../src/backend/index.js';
import { loadNsfwjsModel } from '../../src/bases/image/nsfwjs.js';
import { type BenchOptions, CORES, median, round, runPeer, type Side, type Workload, type WorkloadResult } from '../lib.js';

async function forwardSpeed(batch: number, repeats: number, warmupBatch: number, log: (m: string) => void, label: string): Promise<Side> {
  const model = await loadNsfwjsModel('mobilenet_v2');
  const run = (n: number): number => {
    const x = tf.randomUniform([n, 224, 224, 3]);
    const t0 = performance.now();
    const y = model.predict(x) as tf.Tensor;
    y.dataSync();
    const ms = performance.now() - t0;
    tf.dispose([x, y]);
    return ms;
  };
  run(warmupBatch);
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    runs.push(run(batch) / batch);
    log(`  ${label} run ${r + 1}/${repeats}: ${round(runs[r])} ms/image`);
  }
  model.dispose();
  return { msPerImage: round(median(runs)), batch, images: batch, runs: runs.map((v) => round(v)) };
}

export const mobilenetV2Forward: Workload = {
  name: 'mobilenet-v2-forward',
  metric: 'msPerImage',
  describe: 'MobileNetV2 224x224 forward, batch 32 (ms/image, lower is better)',
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    const notes: string[] = [];
    log('mobilenet-v2-forward: graft (wasm)');
    await useBackend('wasm');
    const batch = quick ? 8 : 32;
    const graft = await forwardSpeed(batch, quick ? 2 : 3, quick ? 2 : 4, log, 'graft wasm');
    graft.backend = 'wasm';
    graft.threads = wasmThreads();

    log('mobilenet-v2-forward: tfjs cpu backend (small batch)');
    await useBackend('cpu');
    const cpuBatch = quick ? 1 : 2;
    const cpu = await forwardSpeed(cpuBatch, 1, 1, log, 'cpu');
    cpu.backend = 'cpu';
    notes.push(`cpu backend measured on one batch of ${cpuBatch} images (it needs ~1 s per image)`);
    await useBackend('wasm');

    log('mobilenet-v2-forward: pytorch peer');
    const extra = quick ? ['--n', '32'] : [];
    const pytorch = runPeer('mobilenet-v2-forward', 'ms_per_image', 1, quick ? 1 : 3, extra, log);
    const pytorchAllCores = CORES > 1 ? runPeer('mobilenet-v2-forward', 'ms_per_image', CORES, quick ? 1 : 3, extra, log) : pytorch;
    if (pytorch)
      notes.push('pytorch: torchvision mobilenet_v2 (random weights), eval + no_grad, batch 32, 1 thread; pytorchAllCores: every core');
    if (quick) notes.push(`--quick: graft measured on batch ${batch}`);

    const g = graft.msPerImage as number;
    const ratio: Record<string, number | null> = {
      vsPytorch: pytorch ? round((pytorch.msPerImage as number) / g) : null,
      vsPytorchAllCores: pytorchAllCores ? round((pytorchAllCores.msPerImage as number) / g) : null,
      vsCpu: round((cpu.msPerImage as number) / g),
    };
    return { name: 'mobilenet-v2-forward', metric: 'msPerImage', graft, cpu, pytorch, pytorchAllCores, ratio, notes };
  },
};
