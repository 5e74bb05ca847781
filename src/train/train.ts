// Staged fine-tuning of a grafted model. Stage 1 trains the head on the frozen trunk; stage 2
// unfreezes the top block(s) at a 10x lower learning rate. In each stage the frozen part is
// fixed, so its outputs are computed once per sample and reused every epoch.
import * as tf from '@tensorflow/tfjs';
import type { Splits } from '../data/types.js';
import { usageError } from '../errors.js';
import { graftedBoundary, trainAbove, unfreezeBoundary, type Grafted } from '../graft/graft.js';
import type { FeatureCache } from './feature-cache.js';
import { extractFeatures, type ExtractStats } from './features.js';
import { fitStage, type EpochInfo, type StageResult } from './fit.js';
import { frozenPart, headBoundary, trainablePart, type Engine, type FrozenPart } from './frozen.js';
import { withSeed } from './seed.js';
import { oneHot } from './tensors.js';

export interface TrainOptions {
  /** Maximum epochs per stage. */
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  /** Blocks below the cut unfrozen in stage 2; 0 trains the head only. */
  unfreeze?: number;
  seed?: number;
  onEpoch?: (e: EpochInfo) => void;
  /** Progress of computing the frozen part's outputs. */
  onFeatures?: (stage: string, done: number, total: number) => void;
  /** Where the frozen part runs (default auto: ONNX Runtime when it loads). */
  engine?: Engine;
  /** Persistent store of frozen-part outputs, reused across runs (default: none). */
  cache?: FeatureCache;
}

export interface StageReport extends StageResult {
  trainableFrom: string;
  featureSeconds: number;
  engine: FrozenPart['engine'];
  /** Images whose frozen-part outputs were computed, or read from the cache (train + val). */
  features: ExtractStats;
}

export interface TrainResult {
  stages: StageReport[];
  seconds: number;
}

export const TRAIN_DEFAULTS = { epochs: 10, batchSize: 32, learningRate: 1e-3, patience: 3, unfreeze: 1 } as const;

/** Scratch training has nothing frozen: the "features" are the normalised images. */
const scratchInput = () => ({ predict: (x: tf.Tensor) => x.clone(), id: 'input' });

interface Stage {
  name: string;
  boundary: string;
  learningRate: number;
}

function plan(g: Grafted, o: Required<Pick<TrainOptions, 'learningRate' | 'unfreeze'>>): Stage[] {
  if (g.scratch) return [{ name: 'scratch', boundary: graftedBoundary(g), learningRate: o.learningRate }];
  const stages: Stage[] = [{ name: 'head', boundary: headBoundary(g), learningRate: o.learningRate }];
  const lower = unfreezeBoundary(g, o.unfreeze);
  if (lower !== g.cut) stages.push({ name: 'fine-tune', boundary: lower, learningRate: o.learningRate / 10 });
  return stages;
}

export async function trainGrafted(g: Grafted, data: Pick<Splits, 'train' | 'val'>, options: TrainOptions = {}): Promise<TrainResult> {
  const o = { ...TRAIN_DEFAULTS, ...options };
  if (g.scratch && data.train.stream) {
    // Scratch training fits on whole-set float tensors: 4x the pixels that were too big to hold.
    throw usageError('--scratch trains on the images held in memory, and this data set is streamed (too large, or --stream): use --per-class or a smaller set');
  }
  const started = performance.now();
  const stages = plan(g, o);
  const results: TrainResult['stages'] = [];
  const y = oneHot(data.train.labels, g.classes.length);
  const yVal = oneHot(data.val.labels, g.classes.length);
  try {
    for (const stage of stages) {
      const t0 = performance.now();
      // A frozen base's trunk is frozen whole; a LayersModel splits at this stage's boundary.
      const below = g.scratch ? undefined : await frozenPart(g, stage.boundary, o.engine);
      const progress = (done: number, total: number) => o.onFeatures?.(stage.name, done, total);
      const part = below ?? { ...scratchInput(), engine: 'tfjs' as const };
      const extract = { normalize: g.base.normalize, batchSize: 64, cache: below && o.cache };
      let train: Awaited<ReturnType<typeof extractFeatures>> | undefined;
      let val: typeof train;
      try {
        train = await extractFeatures(part, data.train, { ...extract, onBatch: progress });
        val = await extractFeatures(part, data.val, extract);
      } catch (e) {
        train?.features.dispose();
        throw e;
      } finally {
        // A graft's own trunk lives as long as the graft; a stage's exported part only as long as the stage.
        if (!g.trunk) await below?.release?.();
      }
      const [x, xVal] = [train.features, val!.features];
      const features = { computed: train.stats.computed + val!.stats.computed, cached: train.stats.cached + val!.stats.cached };
      const featureSeconds = (performance.now() - t0) / 1000;
      if (!g.trunk) trainAbove(g, stage.boundary);
      const above = trainablePart(g, stage.boundary);
      try {
        const r = await withSeed(o.seed === undefined ? undefined : o.seed + results.length, () =>
          fitStage(above, x, y, [xVal, yVal], { stage: stage.name, epochs: o.epochs, learningRate: stage.learningRate, batchSize: o.batchSize, patience: o.patience, onEpoch: o.onEpoch }),
        );
        results.push({ ...r, trainableFrom: stage.boundary, featureSeconds, engine: part.engine, features });
      } finally {
        tf.dispose([x, xVal]);
        // Re-applying layers counts as a use that dispose must release; the shared weights stay
        // with g.model, which still holds its own reference.
        if (above !== g.model) above.dispose();
      }
    }
  } finally {
    tf.dispose([y, yVal]);
    // Leave the model frozen as it was grafted: trunk fixed, head trainable.
    if (!g.trunk) trainAbove(g, graftedBoundary(g));
  }
  return { stages: results, seconds: (performance.now() - started) / 1000 };
}
