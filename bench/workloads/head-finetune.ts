// head-finetune-10-epochs: a linear head on the frozen MobileNetV2 trunk (cut out_relu), 10
// epochs over 256 images (5 classes, batch 32). graft computes the trunk's outputs once (ONNX
// Runtime) and keeps them in the feature cache; the naive loops recompute the trunk every epoch,
// as a plain Keras/TF.js `fit` on the whole model does, and as the PyTorch peer does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../src/backend/index.js';
import { loadBase } from '../../src/bases/index.js';
import type { Base } from '../../src/bases/types.js';
import type { ImageSet } from '../../src/data/types.js';
import { mulberry32 } from '../../src/data/random.js';
import { disposeGrafted, graft, type Grafted } from '../../src/graft/graft.js';
import { FeatureCache } from '../../src/train/feature-cache.js';
import { extractFeatures } from '../../src/train/features.js';
import { fitStage } from '../../src/train/fit.js';
import { frozenPart, type Engine } from '../../src/train/frozen.js';
import { imagesToTensor, oneHot } from '../../src/train/tensors.js';
import { trainGrafted } from '../../src/train/train.js';
import { type BenchOptions, CORES, round, runPeer, type Side, type Workload, type WorkloadResult } from '../lib.js';

const CLASSES = ['a', 'b', 'c', 'd', 'e'];

function randomSet(n: number, seed: number): ImageSet {
  const rand = mulberry32(seed);
  const size = { height: 224, width: 224, channels: 3 as const };
  const pixels = Uint8Array.from({ length: n * 224 * 224 * 3 }, () => Math.floor(rand() * 256));
  const labels = Int32Array.from({ length: n }, () => Math.floor(rand() * CLASSES.length));
  return { classes: CLASSES, size, pixels, labels, ids: Array.from({ length: n }, (_, i) => `random:${i}`) };
}

const fitOptions = (epochs: number) => ({ stage: 'head', epochs, learningRate: 1e-3, batchSize: 32, patience: epochs });

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

/** graft's path: trainGrafted with the feature cache, head only, no early stop. */
async function graftRun(base: Base, data: { train: ImageSet; val: ImageSet }, epochs: number, cache: FeatureCache, seed: number): Promise<{ seconds: number; computed: number; cached: number; engine: string }> {
  const [result, seconds] = await timed(async () => {
    const g = await graft(base, { classes: CLASSES });
    const r = await trainGrafted(g, data, { epochs, patience: epochs, unfreeze: 0, cache, seed });
    await disposeGrafted(g);
    return r;
  });
  const s = result.stages[0];
  return { seconds, computed: s.features.computed, cached: s.features.cached, engine: s.engine };
}

/** Recompute the frozen trunk's outputs every epoch on `engine`, then one epoch of the head. */
async function naiveSameEngine(g: Grafted, data: { train: ImageSet; val: ImageSet }, epochs: number, engine: Engine): Promise<number> {
  const [, seconds] = await timed(async () => {
    const part = await frozenPart(g, g.cut, engine);
    const [y, yVal] = [oneHot(data.train.labels, CLASSES.length), oneHot(data.val.labels, CLASSES.length)];
    for (let e = 0; e < epochs; e++) {
      const x = (await extractFeatures(part, data.train, { normalize: g.base.normalize })).features;
      const xVal = (await extractFeatures(part, data.val, { normalize: g.base.normalize })).features;
      await fitStage(g.model, x, y, [xVal, yVal], fitOptions(1));
      tf.dispose([x, xVal]);
    }
    tf.dispose([y, yVal]);
    await part.release?.();
  });
  return seconds;
}

/** The Keras way in TF.js: `fit` on the whole model (trunk frozen), images in, every epoch. */
async function naiveTfjsFit(g: Grafted, data: { train: ImageSet; val: ImageSet }, epochs: number): Promise<number> {
  const [x, xVal] = [imagesToTensor(data.train, g.base.normalize), imagesToTensor(data.val, g.base.normalize)];
  const [y, yVal] = [oneHot(data.train.labels, CLASSES.length), oneHot(data.val.labels, CLASSES.length)];
  const [, seconds] = await timed(() => fitStage(g.model, x, y, [xVal, yVal], fitOptions(epochs)));
  tf.dispose([x, xVal, y, yVal]);
  return seconds;
}

export const headFinetune: Workload = {
  name: 'head-finetune-10-epochs',
  metric: 'seconds',
  describe: 'linear head on frozen MobileNetV2 (out_relu), 10 epochs over 256 images, batch 32 (seconds, lower is better)',
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    await useBackend('wasm');
    const [n, epochs] = quick ? [64, 3] : [256, 10];
    const data = { train: randomSet(n, 1), val: randomSet(32, 2) };
    const base = await loadBase('mobilenet_v2');
    const dir = mkdtempSync(join(tmpdir(), 'graft-bench-cache-'));
    try {
      const cache = new FeatureCache({ dir });
      log('head-finetune: graft, first run (cold cache)');
      const cold = await graftRun(base, data, epochs, cache, 1);
      log(`  ${round(cold.seconds)} s (${cold.computed} computed on ${cold.engine}, ${cold.cached} cached)`);
      log('head-finetune: graft, second run (warm cache, another seed)');
      const warm = await graftRun(base, data, epochs, cache, 2);
      log(`  ${round(warm.seconds)} s (${warm.computed} computed, ${warm.cached} cached)`);
      const g = await graft(base, { classes: CLASSES });
      log('head-finetune: naive, trunk recomputed every epoch on the same engine');
      const sameEngine = await naiveSameEngine(g, data, epochs, 'auto');
      log(`  ${round(sameEngine)} s`);
      log('head-finetune: naive TF.js fit on the whole model (wasm)');
      const tfjsFit = await naiveTfjsFit(g, data, epochs);
      log(`  ${round(tfjsFit)} s`);
      await disposeGrafted(g);
      log('head-finetune: pytorch peer (head-finetune-naive)');
      const pytorch = runPeer('head-finetune-naive', 'seconds', CORES, 1, ['--n', String(n), '--epochs', String(epochs)], log);
      const graftSide: Side = { seconds: round(cold.seconds), warmSeconds: round(warm.seconds), engine: cold.engine, images: n, epochs, featuresComputed: { cold: cold.computed, warm: warm.computed } };
      const ratio: Record<string, number | null> = {
        vsNaive: round(tfjsFit / cold.seconds),
        vsNaiveSameEngine: round(sameEngine / cold.seconds),
        warmVsCold: round(cold.seconds / warm.seconds),
        vsPytorch: pytorch ? round((pytorch.seconds as number) / cold.seconds) : null,
      };
      const notes = [
        `graft: ${cold.engine} trunk once + cached features; the second run (another seed) computed ${warm.computed} trunk outputs`,
        'naive: TF.js fit on the whole model (trunk frozen), wasm, 1 thread; naiveSameEngine: trunk recomputed every epoch on the engine graft uses',
        `pytorch: the peer's naive loop on ${CORES} threads (trunk recomputed every epoch, no validation)`,
        `with the same engine, recomputing costs at most ${epochs}x (epochs x extraction vs one extraction): a ${epochs}-epoch ratio above ${epochs}x needs a faster engine too`,
      ];
      return { name: 'head-finetune-10-epochs', metric: 'seconds', graft: graftSide, cpu: null, others: { naive: { seconds: round(tfjsFit) }, naiveSameEngine: { seconds: round(sameEngine) } }, pytorch, ratio, notes };
    } finally {
      rmSync(dir, { recursive: true, force: true });
      base.model?.dispose();
    }
  },
};
