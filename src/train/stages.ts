// A grafted classifier trained in stages: classification's StageTask (one-hot targets, categorical
// cross-entropy, early stopping on validation loss, a linear head started as the solved probe)
// run by the one driver (driver.ts).
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import type { Callback } from '../core/callbacks.js';
import { usageError } from '../core/errors.js';
import type { Splits } from '../data/types.js';
import type { FeatureCache } from '../engine/feature-cache.js';
import { headBoundary, type Engine } from '../engine/frozen.js';
import type { TrainEngine } from '../engine/onnx-train.js';
import { stageFeatures } from '../engine/stage-features.js';
import { oneHot } from '../engine/tensors.js';
import type { Grafted } from '../graft/graft.js';
import { withSeed } from '../math/seed.js';
import { TRAIN_DEFAULTS, type TrainBudget } from './defaults.js';
import { trainStages, type StageInputs, type StageTask, type TrainResult } from './driver.js';
import { fitStage } from './fit.js';
import { initHeadByProbe } from './probe-head.js';

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

/** Classification's stages: the frozen part's outputs as tensors, one-hot targets, fitStage. */
function classificationTask(
  g: Grafted,
  data: Pick<Splits, 'train' | 'val'>,
  o: ReturnType<typeof options>,
  y: tf.Tensor[],
): StageTask<tf.Tensor> {
  const [yTrain, yVal] = y;
  const seedOf = (index: number) => (o.seed === undefined ? undefined : o.seed + index);
  return {
    monitor: { metric: 'valLoss', mode: 'min' },
    headBoundary: headBoundary(g),
    keepsInitial: true,
    async inputs(stage) {
      const { features, ...rest } = await stageFeatures(g, stage.boundary, [data.train, data.val], withDefaults({ stage: stage.name }, o));
      const [train, val] = features;
      return { train, val, ...rest, dispose: () => tf.dispose(features) } satisfies StageInputs<tf.Tensor>;
    },
    async fit(above, x, stage) {
      const probe =
        stage.name === 'head' && o.headInit === 'probe'
          ? await initHeadByProbe(above, x.train, data.train.labels, g.classes.length, o.seed, o.cache)
          : undefined;
      const r = await withSeed(seedOf(stage.index), () =>
        fitStage(above, x.train, yTrain, [x.val, yVal], {
          stage: stage.name,
          epochs: o.epochs,
          learningRate: stage.learningRate,
          batchSize: o.batchSize,
          patience: o.patience,
          keepInitial: stage.keepInitial,
          trainEngine: o.trainEngine,
          seed: seedOf(stage.index),
          callbacks: o.callbacks,
        }),
      );
      return { ...r, best: r.bestValLoss, ...(probe ? { probe } : {}) };
    },
  };
}

const options = (o: TrainOptions) => withDefaults(TRAIN_DEFAULTS, o);

export async function trainGrafted(g: Grafted, data: Pick<Splits, 'train' | 'val'>, options_: TrainOptions = {}): Promise<TrainResult> {
  const o = options(options_);
  if (g.scratch && data.train.stream) {
    // Scratch training fits on whole-set float tensors: 4x the pixels that were too big to hold.
    throw usageError(
      '--scratch trains on the images held in memory, and this data set is streamed (too large, or --stream): use --per-class or a smaller set',
    );
  }
  const y = [oneHot(data.train.labels, g.classes.length), oneHot(data.val.labels, g.classes.length)];
  try {
    return await trainStages(g, classificationTask(g, data, o, y), o);
  } finally {
    tf.dispose(y);
  }
}
