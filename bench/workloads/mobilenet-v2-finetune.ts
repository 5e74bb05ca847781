// mobilenet-v2-finetune: what graft trains when it unfreezes one block of MobileNetV2 below its
// usual cut (Conv_1, its BatchNorm kept in inference mode, ReLU6) with the default head (global
// pooling, dropout 0.2, dense softmax), on cached inputs (random values at the block's input, as
// the feature cache holds them), Adam 1e-4, batches of 32: images/s of training steps on graft's
// ONNX Runtime engine, the same steps in TF.js (wasm), and the same network in PyTorch
// (bench/peers/mobilenet_v2_finetune.py).
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../src/backend/index.js';
import { loadMobilenetV2 } from '../../src/bases/image/mobilenet-v2.js';
import { trainablePart } from '../../src/engine/frozen.js';
import { onnxTrainerFor } from '../../src/engine/onnx-train.js';
import { disposeGrafted, graft, trainAbove, unfreezeBoundary } from '../../src/graft/graft.js';
import { mulberry32 } from '../../src/math/random.js';
import { type BenchOptions, CORES, median, ROOT, round, runPeer, type Side, type Workload, type WorkloadResult } from '../lib.js';

const BATCH = 32;
const CLASSES = ['a', 'b', 'c', 'd', 'e'];
const PEER = path.join(ROOT, 'bench/peers/mobilenet_v2_finetune.py');

export const mobilenetV2Finetune: Workload = {
  name: 'mobilenet-v2-finetune',
  metric: 'imagesPerS',
  describe: "MobileNetV2's top block + head trained on cached inputs, batch 32, Adam 1e-4 (images/s, higher is better)",
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    await useBackend('wasm');
    const base = await loadMobilenetV2();
    const g = await graft(base, { classes: CLASSES });
    const boundary = unfreezeBoundary(g, 1);
    trainAbove(g, boundary);
    const model = trainablePart(g, boundary);
    const shape = (model.inputs[0].shape as number[]).slice(1);
    const rand = mulberry32(1);
    const x = Float32Array.from({ length: BATCH * shape.reduce((a, b) => a * b, 1) }, () => rand() * 3);
    const y = new Float32Array(BATCH * CLASSES.length);
    for (let i = 0; i < BATCH; i++) y[i * CLASSES.length + (i % CLASSES.length)] = 1;
    const [steps, repeats] = quick ? [4, 2] : [16, 5];

    const speed = async (label: string, step: () => Promise<void>, n: number): Promise<Side> => {
      await step(); // warm-up
      const runs: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await step();
        runs.push((BATCH * n) / ((performance.now() - t0) / 1000));
        log(`  ${label} run ${r + 1}/${repeats}: ${round(runs[r])} images/s`);
      }
      return { imagesPerS: round(median(runs)), batch: BATCH, images: BATCH * n, runs: runs.map((v) => round(v)) };
    };

    log(`mobilenet-v2-finetune: graft (ONNX Runtime training engine), trainable from ${boundary}`);
    const { trainer, used } = await onnxTrainerFor(model, 'onnx', { optimizer: { kind: 'adam' }, seed: 0 });
    const graftSide = await speed('graft onnx', async () => void (await trainer!.train(x, [BATCH, ...shape], y, 1e-4)), steps);
    await trainer!.release();
    graftSide.backend = 'onnxruntime';
    graftSide.threads = CORES;

    log('mobilenet-v2-finetune: the same steps in TF.js (wasm)');
    const optimizer = tf.train.adam(1e-4);
    const [xs, ys] = [tf.tensor(x, [BATCH, ...shape]), tf.tensor(y, [BATCH, CLASSES.length])];
    const wasm = await speed(
      'graft wasm',
      async () =>
        tf.tidy(() => {
          optimizer.minimize(
            () => tf.mean(tf.metrics.categoricalCrossentropy(ys, model.apply(xs, { training: true }) as tf.Tensor)) as tf.Scalar,
          );
        }),
      quick ? 1 : 3,
    );
    wasm.backend = 'wasm';
    tf.dispose([xs, ys]);
    optimizer.dispose();
    model.dispose();
    await disposeGrafted(g);

    log('mobilenet-v2-finetune: pytorch peer');
    const extra = quick ? ['--n', '128', '--epochs', '1'] : [];
    const pytorch = runPeer('mobilenet-v2-finetune', 'images_per_s', 1, quick ? 1 : 3, extra, log, PEER);
    const pytorchAllCores = CORES > 1 ? runPeer('mobilenet-v2-finetune', 'images_per_s', CORES, quick ? 1 : 3, extra, log, PEER) : pytorch;
    const gs = graftSide.imagesPerS as number;
    return {
      name: 'mobilenet-v2-finetune',
      metric: 'imagesPerS',
      graft: graftSide,
      cpu: null,
      pytorch,
      pytorchAllCores,
      others: { wasm },
      ratio: {
        vsPytorch: pytorch ? round(gs / (pytorch.imagesPerS as number)) : null,
        vsPytorchAllCores: pytorchAllCores ? round(gs / (pytorchAllCores.imagesPerS as number)) : null,
        vsWasm: round(gs / (wasm.imagesPerS as number)),
      },
      notes: [
        `trainable from ${boundary} (${used.engine}): Conv_1 1x1 320→1280, its BatchNorm (moving statistics), ReLU6, global pooling, dropout 0.2, dense 5; inputs random, as the feature cache would hold them`,
        'pytorch: bench/peers/mobilenet_v2_finetune.py, the same layers (BatchNorm in eval mode), Adam 1e-4, batch 32',
      ],
    };
  },
};
