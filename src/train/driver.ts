// Staged fine-tuning, one driver for every kind of grafted model (classifiers, multi-task models,
// detectors). Stage 1 trains the head on the frozen trunk; stage 2 unfreezes the top block(s) at a
// lower learning rate (fineTuneFactor), or `unfreeze: 'auto'` tries 1, 2, … blocks and keeps the
// best. In each stage the frozen part is fixed, so its outputs are computed once per sample (and
// cached) and reused every epoch. What differs between kinds (targets, loss, what early stopping
// watches) is a StageTask; the stages around it are written once, here.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import { notify, type Callback } from '../core/callbacks.js';
import { usageError } from '../core/errors.js';
import type { ImageBase } from '../bases/types.js';
import type { ExtractStats } from '../engine/features.js';
import { trainablePart, type FrozenPart } from '../engine/frozen.js';
import type { TrainEngineUsed } from '../engine/onnx-train.js';
import { graftedBoundary, trainAbove, unfreezeBoundary } from '../graft/graft.js';
import { TRAIN_DEFAULTS } from './defaults.js';
import { disposeSnapshot, restoreWeights, snapshotWeights, type WeightSnapshot } from './loop.js';
import type { ProbeHeadReport } from './probe-head.js';

export type StageName = 'head' | 'fine-tune' | 'scratch';

/** One stage as the driver plans it and a task fits it. */
export interface StagePlan {
  name: StageName;
  /** The last frozen layer: everything above it trains. */
  boundary: string;
  learningRate: number;
  /** Fine-tuning stages: blocks below the cut unfrozen. */
  blocks?: number;
  /** The stage's place in the run (0, 1, …): tasks seed each stage with seed + index. */
  index: number;
  /** The weights the stage starts from count as epoch 0, kept unless an epoch beats them. */
  keepInitial: boolean;
}

/** A stage's training and validation inputs: the frozen part's outputs at its boundary. */
export interface StageInputs<F> {
  train: F;
  val: F;
  /** Samples whose outputs were computed, or read from the feature cache (train + val). */
  stats: ExtractStats;
  engine: FrozenPart['engine'];
  seconds: number;
  dispose(): void;
}

/** What a task's fit reports of one stage. */
export interface StageFit {
  epochsRun: number;
  /** 0 when the starting weights stayed the best. */
  bestEpoch: number;
  /** What early stopping watched (the task's monitor; 'loss' without validation data), and its best value. */
  monitor: string;
  best: number;
  bestValLoss: number;
  /** Every number of the best epoch (or of the starting weights when they stayed the best): valLoss, valAccuracy, valAP50, valLoss:<task>, … */
  metrics: Record<string, number>;
  seconds: number;
  /** Where the steps ran, and why not on ONNX Runtime when they did not. */
  trainEngine: TrainEngineUsed;
  /** How a linear head was solved before the stage's epochs, when it was. */
  probe?: ProbeHeadReport;
}

/**
 * What a kind trains: how its inputs are computed at a boundary and how the part above is fitted
 * on them (targets, loss, optimiser, seeds). The driver owns the stages around it.
 */
export interface StageTask<F> {
  /** What early stopping watches; `unfreeze: 'auto'` compares fine-tuning depths by it. */
  monitor: { metric: string; mode: 'min' | 'max' };
  /** The head stage's boundary: the cut, or past layers that have nothing to train (a pooling folded into the frozen part). */
  headBoundary: string;
  /**
   * Every stage's starting weights compete with its epochs (classifiers, whose head starts as the
   * solved probe); otherwise only fine-tuning stages' do (their start is the trained head).
   */
  keepsInitial: boolean;
  inputs(stage: StagePlan): Promise<StageInputs<F>>;
  fit(above: tf.LayersModel, inputs: StageInputs<F>, stage: StagePlan): Promise<StageFit>;
}

export interface StageReport extends StageFit {
  stage: StageName;
  trainableFrom: string;
  blocks?: number;
  /** False for a fine-tuning stage that did not beat the head it started from (its weights were put back). */
  kept: boolean;
  /** Where the frozen part ran. */
  engine: FrozenPart['engine'];
  features: ExtractStats;
  featureSeconds: number;
}

export interface TrainResult {
  stages: StageReport[];
  /** Blocks below the cut the kept model fine-tuned (0: head only). */
  unfreeze: number;
  /** The lowest layer the kept model's training changed nothing below (the kept last stage's boundary). */
  trainableFrom: string;
  seconds: number;
}

/** The options of the stages themselves (the task reads the rest: epochs, batch size, seed, …). */
export interface StageOptions {
  /**
   * Blocks below the cut unfrozen in stage 2; 0 trains the head only. 'auto' tries 1, 2, …
   * (up to UNFREEZE_AUTO_MAX) from the trained head, each a full fine-tuning stage, and keeps the
   * one with the best validation score, stopping at the first that does not beat the one before.
   */
  unfreeze?: number | 'auto';
  learningRate?: number;
  /** The fine-tuning stage's learning rate as a fraction of `learningRate`. */
  fineTuneFactor?: number;
  /** Stage begin and end. */
  callbacks?: readonly Callback[];
}

/** What the driver needs of a graft: its model, where it was cut, its base's blocks. */
export interface StagedGraft {
  base: ImageBase;
  model: tf.LayersModel;
  cut: string;
  scratch: boolean;
  /** A frozen base's trunk (a graph or ONNX model): its layers are not g.model's, nothing below the cut trains. */
  trunk?: unknown;
}

/** Most blocks `unfreeze: 'auto'` fine-tunes: each try costs a full stage, deeper ones more. */
export const UNFREEZE_AUTO_MAX = 3;

/** A stage's number as a search compares it: better is lower for a loss, higher for an AP. */
const better = (mode: 'min' | 'max', a: number, b: number) => (mode === 'min' ? a < b : a > b);

/**
 * Train `g` in stages on `task`: the head (or everything, for a scratch graft), then the top
 * `unfreeze` blocks below the cut. A fine-tuning stage starts from the trained head, which
 * competes with its epochs: one that beats it on validation is kept, one that does not leaves the
 * head's weights as they were.
 */
export async function trainStages<F>(g: StagedGraft, task: StageTask<F>, options: StageOptions = {}): Promise<TrainResult> {
  const defaults: Required<Omit<StageOptions, 'callbacks'>> = {
    unfreeze: TRAIN_DEFAULTS.unfreeze,
    learningRate: TRAIN_DEFAULTS.learningRate,
    fineTuneFactor: TRAIN_DEFAULTS.fineTuneFactor,
  };
  const o = withDefaults(defaults, options);
  if (o.unfreeze !== 'auto' && !(Number.isInteger(o.unfreeze) && o.unfreeze >= 0))
    throw usageError(`unfreeze must be a whole number >= 0 or 'auto', got ${o.unfreeze}`);
  const started = performance.now();
  const stages: StageReport[] = [];
  const run = async (plan: Omit<StagePlan, 'index' | 'keepInitial'>) => {
    const stage: StagePlan = { ...plan, index: stages.length, keepInitial: task.keepsInitial || plan.name === 'fine-tune' };
    const report = await runStage(g, task, stage, o.callbacks);
    stages.push(report);
    return report;
  };
  const fineTune = (blocks: number) => {
    const boundary = unfreezeBoundary(g, blocks);
    return boundary === g.cut
      ? undefined
      : { name: 'fine-tune' as const, boundary, learningRate: o.learningRate * o.fineTuneFactor, blocks };
  };
  let unfreeze = 0;
  try {
    if (g.scratch) await run({ name: 'scratch', boundary: graftedBoundary(g), learningRate: o.learningRate });
    else {
      const head = await run({ name: 'head', boundary: task.headBoundary, learningRate: o.learningRate });
      if (o.unfreeze === 'auto') unfreeze = await searchUnfreeze(g, task.monitor.mode, head, fineTune, run);
      else {
        const stage = fineTune(o.unfreeze);
        const report = stage && (await run(stage));
        unfreeze = report?.kept ? o.unfreeze : 0;
      }
    }
  } finally {
    // Leave the model frozen as it was grafted: trunk fixed, head trainable.
    if (!g.trunk) trainAbove(g, graftedBoundary(g));
  }
  const trainableFrom = stages.filter((s) => s.kept).at(-1)?.trainableFrom ?? graftedBoundary(g);
  return { stages, unfreeze, trainableFrom, seconds: (performance.now() - started) / 1000 };
}

/** One stage: the frozen part's outputs computed (or read from the cache) once, then the part above fitted on them. */
async function runStage<F>(g: StagedGraft, task: StageTask<F>, stage: StagePlan, callbacks?: readonly Callback[]): Promise<StageReport> {
  await notify(callbacks, 'onStageBegin', stage.name);
  const inputs = await task.inputs(stage);
  if (!g.trunk) trainAbove(g, stage.boundary);
  const above = trainablePart(g, stage.boundary);
  try {
    const fit = await task.fit(above, inputs, stage);
    await notify(callbacks, 'onStageEnd', stage.name);
    return {
      stage: stage.name,
      trainableFrom: stage.boundary,
      blocks: stage.blocks,
      // A fine-tuning stage whose best is its starting point (epoch 0) changed nothing.
      kept: stage.name !== 'fine-tune' || fit.bestEpoch > 0,
      engine: inputs.engine,
      features: inputs.stats,
      featureSeconds: inputs.seconds,
      monitor: fit.monitor,
      epochsRun: fit.epochsRun,
      bestEpoch: fit.bestEpoch,
      best: fit.best,
      bestValLoss: fit.bestValLoss,
      metrics: fit.metrics,
      seconds: fit.seconds,
      trainEngine: fit.trainEngine,
      ...(fit.probe ? { probe: fit.probe } : {}),
    };
  } finally {
    inputs.dispose();
    // Re-applying layers counts as a use that dispose must release; the shared weights stay
    // with g.model, which still holds its own reference.
    if (above !== g.model) above.dispose();
  }
}

/**
 * Fine-tune 1, 2, … blocks, each from the trained head, and keep the weights of the one with the
 * best validation score: a short validation search, as how deep to fine-tune has no closed
 * answer (it depends on how far the target is from the source). Stops at the first depth that
 * does not improve on the one before, or at UNFREEZE_AUTO_MAX.
 */
async function searchUnfreeze(
  g: StagedGraft,
  mode: 'min' | 'max',
  head: StageReport,
  fineTune: (blocks: number) => Omit<StagePlan, 'index' | 'keepInitial'> | undefined,
  run: (s: Omit<StagePlan, 'index' | 'keepInitial'>) => Promise<StageReport>,
): Promise<number> {
  const start = snapshotWeights(g.model);
  let best = {
    blocks: 0,
    value: head.best,
    weights: undefined as WeightSnapshot | undefined,
    report: undefined as StageReport | undefined,
  };
  try {
    let previous = { value: head.best, boundary: head.trainableFrom };
    for (let blocks = 1; blocks <= UNFREEZE_AUTO_MAX; blocks++) {
      const stage = fineTune(blocks);
      // No block left below the last try: the base is fine-tuned down to its input.
      if (!stage || stage.boundary === previous.boundary) break;
      if (blocks > 1) restoreWeights(start);
      const report = await run(stage);
      report.kept = false;
      // A try whose best is its starting point (epoch 0) changed nothing, whatever rounding says.
      if (report.bestEpoch > 0 && better(mode, report.best, best.value)) {
        disposeSnapshot(best.weights);
        best = { blocks, value: report.best, weights: snapshotWeights(g.model), report };
      }
      if (report.bestEpoch === 0 || !better(mode, report.best, previous.value)) break;
      previous = { value: report.best, boundary: stage.boundary };
    }
    restoreWeights(best.weights ?? start);
    if (best.report) best.report.kept = true;
    return best.blocks;
  } finally {
    disposeSnapshot(start);
    disposeSnapshot(best.weights);
  }
}
