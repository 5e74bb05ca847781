// Staged fine-tuning of a grafted model. Stage 1 trains the head on the frozen trunk; stage 2
// unfreezes the top block(s) at a lower learning rate (fineTuneFactor). In each stage the frozen
// part is fixed, so its outputs are computed once per sample and reused every epoch.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import { notify, type Callback } from '../core/callbacks.js';
import { usageError } from '../core/errors.js';
import type { Splits } from '../data/types.js';
import type { FeatureCache } from '../engine/feature-cache.js';
import type { ExtractStats } from '../engine/features.js';
import { headBoundary, trainablePart, type Engine, type FrozenPart } from '../engine/frozen.js';
import type { TrainEngine } from '../engine/onnx-train.js';
import { stageFeatures } from '../engine/stage-features.js';
import { oneHot } from '../engine/tensors.js';
import { graftedBoundary, trainAbove, unfreezeBoundary, type Grafted } from '../graft/graft.js';
import { withSeed } from '../math/seed.js';
import { TRAIN_DEFAULTS, type TrainBudget } from './defaults.js';
import { fitStage, type StageResult } from './fit.js';
import { disposeSnapshot, restoreWeights, snapshotWeights, type WeightSnapshot } from './loop.js';
import { initHeadByProbe, type ProbeHeadReport } from './probe-head.js';

export interface TrainOptions extends TrainBudget {
  /**
   * Blocks below the cut unfrozen in stage 2; 0 trains the head only. 'auto' tries 1, 2, …
   * (up to UNFREEZE_AUTO_MAX) from the trained head, each a full fine-tuning stage, and keeps the
   * one with the lowest validation loss, stopping at the first that does not beat the one before.
   */
  unfreeze?: number | 'auto';
  /** Where the frozen part runs (default auto: ONNX Runtime when it loads). */
  engine?: Engine;
  /** Where the trainable part trains (default auto: ONNX Runtime where graft's step generator covers it). */
  trainEngine?: TrainEngine;
  /** Persistent store of frozen-part outputs, reused across runs (default: none). */
  cache?: FeatureCache;
  /**
   * How a linear head starts: 'probe' (default) solves it as a cross-validated linear probe on the
   * frozen features first, 'random' starts from Glorot-initialised weights as Keras does.
   */
  headInit?: 'probe' | 'random';
  /** Stage begin and end, every epoch, and the frozen features' progress ('<stage>: frozen features'). */
  callbacks?: readonly Callback[];
}

export interface StageReport extends StageResult {
  trainableFrom: string;
  featureSeconds: number;
  engine: FrozenPart['engine'];
  /** Images whose frozen-part outputs were computed, or read from the cache (train + val). */
  features: ExtractStats;
  /** How the linear head was solved before the stage's epochs, when it was. */
  probe?: ProbeHeadReport;
  /** Blocks below the cut this stage trained (fine-tuning stages). */
  blocks?: number;
  /** False for a fine-tuning stage `unfreeze: 'auto'` tried and did not keep. */
  kept: boolean;
}

export interface TrainResult {
  stages: StageReport[];
  /** Blocks below the cut the kept model fine-tuned (0: head only). */
  unfreeze: number;
  /** The lowest layer the kept model's training changed nothing below (the kept last stage's boundary). */
  trainableFrom: string;
  seconds: number;
}

/** Most blocks `unfreeze: 'auto'` fine-tunes: each try costs a full stage, deeper ones more. */
export const UNFREEZE_AUTO_MAX = 3;

interface Stage {
  name: string;
  boundary: string;
  learningRate: number;
  blocks?: number;
}

type Options = TrainOptions & Required<Pick<TrainOptions, keyof typeof TRAIN_DEFAULTS>>;

/**
 * One stage: the frozen part's outputs computed (or read from the cache) once, then the part above
 * fitted on them. The weights a stage starts from compete with its epochs on validation loss: a
 * fine-tuning stage that only makes the head's model worse leaves it as it was.
 */
async function runStage(
  g: Grafted,
  data: Pick<Splits, 'train' | 'val'>,
  stage: Stage,
  o: Options,
  index: number,
  y: tf.Tensor,
  yVal: tf.Tensor,
): Promise<StageReport> {
  await notify(o.callbacks, 'onStageBegin', stage.name);
  const {
    features: [x, xVal],
    stats: features,
    engine,
    seconds: featureSeconds,
  } = await stageFeatures(g, stage.boundary, [data.train, data.val], withDefaults({ stage: stage.name }, o));
  if (!g.trunk) trainAbove(g, stage.boundary);
  const above = trainablePart(g, stage.boundary);
  try {
    const probe =
      stage.name === 'head' && o.headInit === 'probe'
        ? await initHeadByProbe(above, x, data.train.labels, g.classes.length, o.seed, o.cache)
        : undefined;
    const r = await withSeed(o.seed === undefined ? undefined : o.seed + index, () =>
      fitStage(above, x, y, [xVal, yVal], {
        stage: stage.name,
        epochs: o.epochs,
        learningRate: stage.learningRate,
        batchSize: o.batchSize,
        patience: o.patience,
        keepInitial: true,
        trainEngine: o.trainEngine,
        seed: o.seed === undefined ? undefined : o.seed + index,
        callbacks: o.callbacks,
      }),
    );
    await notify(o.callbacks, 'onStageEnd', stage.name);
    return { ...r, trainableFrom: stage.boundary, featureSeconds, engine, features, probe, blocks: stage.blocks, kept: true };
  } finally {
    tf.dispose([x, xVal]);
    // Re-applying layers counts as a use that dispose must release; the shared weights stay
    // with g.model, which still holds its own reference.
    if (above !== g.model) above.dispose();
  }
}

const fineTune = (g: Grafted, blocks: number, o: Options): Stage | undefined => {
  const boundary = unfreezeBoundary(g, blocks);
  return boundary === g.cut ? undefined : { name: `fine-tune`, boundary, learningRate: o.learningRate * o.fineTuneFactor, blocks };
};

export async function trainGrafted(g: Grafted, data: Pick<Splits, 'train' | 'val'>, options: TrainOptions = {}): Promise<TrainResult> {
  const o: Options = withDefaults(TRAIN_DEFAULTS, options);
  if (g.scratch && data.train.stream) {
    // Scratch training fits on whole-set float tensors: 4x the pixels that were too big to hold.
    throw usageError(
      '--scratch trains on the images held in memory, and this data set is streamed (too large, or --stream): use --per-class or a smaller set',
    );
  }
  if (o.unfreeze !== 'auto' && !(Number.isInteger(o.unfreeze) && o.unfreeze >= 0))
    throw usageError(`unfreeze must be a whole number >= 0 or 'auto', got ${o.unfreeze}`);
  const started = performance.now();
  const stages: StageReport[] = [];
  const y = oneHot(data.train.labels, g.classes.length);
  const yVal = oneHot(data.val.labels, g.classes.length);
  const run = async (stage: Stage) => {
    const report = await runStage(g, data, stage, o, stages.length, y, yVal);
    stages.push(report);
    return report;
  };
  let unfreeze = 0;
  try {
    if (g.scratch) {
      await run({ name: 'scratch', boundary: graftedBoundary(g), learningRate: o.learningRate });
    } else {
      const head = await run({ name: 'head', boundary: headBoundary(g), learningRate: o.learningRate });
      if (o.unfreeze === 'auto') unfreeze = await searchUnfreeze(g, o, head, run);
      else {
        const stage = fineTune(g, o.unfreeze, o);
        if (stage) await run(stage);
        unfreeze = stage ? o.unfreeze : 0;
      }
    }
  } finally {
    tf.dispose([y, yVal]);
    // Leave the model frozen as it was grafted: trunk fixed, head trainable.
    if (!g.trunk) trainAbove(g, graftedBoundary(g));
  }
  const trainableFrom = stages.filter((s) => s.kept).at(-1)?.trainableFrom ?? graftedBoundary(g);
  return { stages, unfreeze, trainableFrom, seconds: (performance.now() - started) / 1000 };
}

/**
 * Fine-tune 1, 2, … blocks, each from the trained head, and keep the weights of the one with the
 * lowest validation loss: a short validation search, as the issue of how deep to fine-tune has
 * no closed answer (it depends on how far the target is from the source). Stops at the first
 * depth that does not improve on the one before, or at UNFREEZE_AUTO_MAX.
 */
async function searchUnfreeze(g: Grafted, o: Options, head: StageReport, run: (s: Stage) => Promise<StageReport>): Promise<number> {
  const start = snapshotWeights(g.model);
  let best = {
    blocks: 0,
    valLoss: head.bestValLoss,
    weights: undefined as WeightSnapshot | undefined,
    report: undefined as StageReport | undefined,
  };
  try {
    let previous = { valLoss: head.bestValLoss, boundary: head.trainableFrom };
    for (let blocks = 1; blocks <= UNFREEZE_AUTO_MAX; blocks++) {
      const stage = fineTune(g, blocks, o);
      // No block left below the last try: the base is fine-tuned down to its input.
      if (!stage || stage.boundary === previous.boundary) break;
      if (blocks > 1) restoreWeights(start);
      const report = await run(stage);
      report.kept = false;
      // A try whose best is its starting point (epoch 0) changed nothing, whatever rounding says.
      const improved = report.bestEpoch > 0 && report.bestValLoss < best.valLoss;
      if (improved) {
        disposeSnapshot(best.weights);
        best = { blocks, valLoss: report.bestValLoss, weights: snapshotWeights(g.model), report };
      }
      if (report.bestEpoch === 0 || !(report.bestValLoss < previous.valLoss)) break;
      previous = { valLoss: report.bestValLoss, boundary: stage.boundary };
    }
    restoreWeights(best.weights ?? start);
    if (best.report) best.report.kept = true;
    return best.blocks;
  } finally {
    disposeSnapshot(start);
    disposeSnapshot(best.weights);
  }
}
