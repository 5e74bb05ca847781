// head-finetune-10-epochs: a linear head on the frozen MobileNetV2 trunk (cut out_relu), 10
// epochs over 256 images (5 classes, batch 32). graft computes the trunk's outputs once (ONNX
// Runtime) and keeps them in the feature cache; the naive loops recompute the trunk every epoch,
// as a plain Keras/TF.js `fit` on a model with a frozen trunk does, and as the PyTorch peer does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../src/backend/index.js';
import { loadImageBase } from '../../src/bases/index.js';
import type { ImageBase } from '../../src/bases/types.js';
import type { ImageSet } from '../../src/data/types.js';
import { mulberry32 } from '../../src/math/random.js';
import { disposeGrafted, graft, type Grafted } from '../../src/graft/graft.js';
import { FeatureCache } from '../../src/engine/feature-cache.js';
import { extractFeatures } from '../../src/engine/features.js';
import { fitStage } from '../../src/train/fit.js';
import { frozenPart, headBoundary, trainablePart, type Engine } from '../../src/engine/frozen.js';
import { oneHot } from '../../src/engine/tensors.js';
import { trainGrafted } from '../../src/train/stages.js';
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

/**
 * graft's path: trainGrafted with the feature cache, head only, no early stop. Timed from the
 * grafted model to the trained head; building the graft (the same for every setup) is reported apart.
 */
async function graftRun(base: ImageBase, data: { train: ImageSet; val: ImageSet }, epochs: number, cache: FeatureCache, seed: number) {
  const [g, graftSeconds] = await timed(() => graft(base, { classes: CLASSES }));
  const [result, seconds] = await timed(() => trainGrafted(g, data, { epochs, patience: epochs, unfreeze: 0, cache, seed }));
  await disposeGrafted(g);
  const s = result.stages[0];
  return {
    seconds,
    graftSeconds,
    featureSeconds: s.featureSeconds,
    probeSeconds: s.probe?.seconds ?? 0,
    probeCached: s.probe?.cached ?? false,
    fitSeconds: s.seconds,
    computed: s.features.computed,
    cached: s.features.cached,
    engine: s.engine,
  };
}

/** Recompute the frozen trunk's outputs every epoch on `engine`, then one epoch of the head. */
async function naiveRecompute(g: Grafted, data: { train: ImageSet; val: ImageSet }, epochs: number, engine: Engine): Promise<number> {
  const [, seconds] = await timed(async () => {
    const boundary = headBoundary(g);
    const part = await frozenPart(g, boundary, engine);
    const above = trainablePart(g, boundary);
    const [y, yVal] = [oneHot(data.train.labels, CLASSES.length), oneHot(data.val.labels, CLASSES.length)];
    for (let e = 0; e < epochs; e++) {
      const x = (await extractFeatures(part, data.train, { normalize: g.base.normalize })).features;
      const xVal = (await extractFeatures(part, data.val, { normalize: g.base.normalize })).features;
      await fitStage(above, x, y, [xVal, yVal], fitOptions(1));
      tf.dispose([x, xVal]);
    }
    tf.dispose([y, yVal]);
    above.dispose();
    await part.release?.();
  });
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
    const base = await loadImageBase('mobilenet_v2');
    const dir = mkdtempSync(join(tmpdir(), 'graft-bench-cache-'));
    try {
      const cache = new FeatureCache({ dir });
      log('head-finetune: graft, first run (cold cache)');
      const cold = await graftRun(base, data, epochs, cache, 1);
      log(
        `  ${round(cold.seconds)} s: features ${round(cold.featureSeconds)} s (${cold.computed} computed on ${cold.engine}, ${cold.cached} cached), probe ${round(cold.probeSeconds)} s, fit ${round(cold.fitSeconds)} s; graft() ${round(cold.graftSeconds)} s`,
      );
      log('head-finetune: graft, second run (warm cache, another seed)');
      const warm = await graftRun(base, data, epochs, cache, 2);
      log(
        `  ${round(warm.seconds)} s: features ${round(warm.featureSeconds)} s (${warm.computed} computed, ${warm.cached} cached), probe ${round(warm.probeSeconds)} s, fit ${round(warm.fitSeconds)} s; graft() ${round(warm.graftSeconds)} s`,
      );
      log('head-finetune: graft, the first run again (warm cache, same seed: the solved probe is cached too)');
      const rerun = await graftRun(base, data, epochs, cache, 1);
      log(
        `  ${round(rerun.seconds)} s: features ${round(rerun.featureSeconds)} s, probe ${round(rerun.probeSeconds)} s (${rerun.probeCached ? 'cached' : 'solved'}), fit ${round(rerun.fitSeconds)} s; graft() ${round(rerun.graftSeconds)} s`,
      );
      const g = await graft(base, { classes: CLASSES });
      log('head-finetune: naive, trunk recomputed every epoch on the same engine');
      const sameEngine = await naiveRecompute(g, data, epochs, 'auto');
      log(`  ${round(sameEngine)} s`);
      log('head-finetune: naive, trunk recomputed every epoch in TF.js (wasm), as a Keras-style fit on the frozen model does');
      const tfjsFit = await naiveRecompute(g, data, epochs, 'tfjs');
      log(`  ${round(tfjsFit)} s`);
      await disposeGrafted(g);
      log('head-finetune: pytorch peer (head-finetune-naive)');
      const pytorch = runPeer('head-finetune-naive', 'seconds', CORES, 1, ['--n', String(n), '--epochs', String(epochs)], log);
      const graftSide: Side = {
        seconds: round(cold.seconds),
        warmSeconds: round(warm.seconds),
        rerunSeconds: round(rerun.seconds),
        // Where a run's time goes: the frozen part's outputs, the cross-validated probe that starts a linear head, the epochs.
        featureSeconds: { cold: round(cold.featureSeconds), warm: round(warm.featureSeconds), rerun: round(rerun.featureSeconds) },
        probeSeconds: { cold: round(cold.probeSeconds), warm: round(warm.probeSeconds), rerun: round(rerun.probeSeconds) },
        fitSeconds: { cold: round(cold.fitSeconds), warm: round(warm.fitSeconds), rerun: round(rerun.fitSeconds) },
        graftSeconds: round(cold.graftSeconds),
        engine: cold.engine,
        images: n,
        epochs,
        featuresComputed: { cold: cold.computed, warm: warm.computed },
      };
      const ratio: Record<string, number | null> = {
        vsNaive: round(tfjsFit / cold.seconds),
        vsNaiveSameEngine: round(sameEngine / cold.seconds),
        warmVsCold: round(cold.seconds / warm.seconds),
        warmVsColdFeatures: round(cold.featureSeconds / warm.featureSeconds),
        vsPytorch: pytorch ? round((pytorch.seconds as number) / cold.seconds) : null,
      };
      const notes = [
        `graft: ${cold.engine} trunk once + cached features, timed from the grafted model (graft() itself: ${round(cold.graftSeconds)} s, the same for every setup); the second run (another seed) computed ${warm.computed} trunk outputs`,
        "naive: the trunk's forward pass recomputed every epoch in TF.js (wasm, 1 thread), what fit() on a model with a frozen trunk costs (fit() on the whole model itself ran out of wasm memory at batch 32); naiveSameEngine: recomputed on the engine graft uses",
        `pytorch: the peer's naive loop on ${CORES} threads (trunk recomputed every epoch, no validation)`,
        `with the same engine, recomputing costs at most ${epochs}x (epochs x extraction vs one extraction): a ${epochs}-epoch ratio above ${epochs}x needs a faster engine too`,
      ];
      return {
        name: 'head-finetune-10-epochs',
        metric: 'seconds',
        graft: graftSide,
        cpu: null,
        others: { naive: { seconds: round(tfjsFit) }, naiveSameEngine: { seconds: round(sameEngine) } },
        pytorch,
        ratio,
        notes,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
      if (base.kind === 'layers') base.model.dispose();
    }
  },
};
