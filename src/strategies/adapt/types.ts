// The shapes domain adaptation works with: domains of inputs, the options of a training run, its
// result, and what an adaptation method (one module in methods/) plugs into the training loop.
import type * as tf from '@tensorflow/tfjs';
import type { Callback } from '../../core/callbacks.js';
import type { TrainEngine, TrainEngineUsed } from '../../engine/onnx-train.js';
import type { DomainTerm } from '../../onnx/train/adaptation-loss.js';

/** One domain's inputs (features n x d, or images when a trunk is trained), with labels where they may be used. */
export interface Domain {
  x: tf.Tensor;
  y?: Int32Array;
}

export type LabelledDomain = Domain & { y: Int32Array };

export interface SourceSplit {
  train: LabelledDomain;
  val: LabelledDomain;
}

export interface AdaptResult {
  /** Features → class probabilities (the bottleneck and the classifier). */
  model: tf.LayersModel;
  /** How the kept weights were chosen, without target labels. */
  checkpoint: string;
  /** Source validation accuracy of the kept weights. */
  sourceValAccuracy: number;
  /** Self-training: pseudo-labelled target samples used in each round. */
  pseudoLabels?: number[];
  /** Where the adaptation network trained (self-training: its last round). */
  trainEngine: TrainEngineUsed;
}

/** One training step as a method's loss sees it: the bottleneck's activations for the batch. */
export interface AdaptStep {
  /** Source rows then (for aligned methods) target rows. */
  h: tf.Tensor2D;
  /** The source rows. */
  hs: tf.Tensor2D;
  /** The target rows (empty unless the method is aligned). */
  ht: tf.Tensor2D;
  /** Fraction of all the run's steps done before this one: what schedules read. */
  progress: number;
}

/** A method's state for one training run (a domain classifier, …), freed after it. */
export interface MethodRun {
  /** The classification loss `loss` with the method's terms added, in order (inside the optimizer's closure). */
  addLoss(loss: tf.Scalar, step: AdaptStep): tf.Scalar;
  /**
   * The same loss in ONNX Runtime's training step (onnx/train/adaptation-loss.ts), and the
   * scalars it reads at training progress p. Absent, the method trains in TF.js.
   */
  step?: { term: DomainTerm; scalars?(progress: number): Record<string, number> };
  dispose?(): void;
}

export interface MethodOptions {
  bottleneck: number;
  coralWeight: number;
  adversary: 'reversal' | 'confusion';
}

/** What one run of the adaptation network gives: the model with its best source-validated weights. */
export type Round = (
  train: LabelledDomain,
  round: number,
) => Promise<{ model: tf.LayersModel; sourceValAccuracy: number; trainEngine: TrainEngineUsed }>;

/**
 * An adaptation method: how it changes training (a loss on the bottleneck, a learning-rate
 * schedule, rounds of its own) and what it changes afterwards for the target. A new method is one
 * module in methods/ implementing this, and one line in methods/index.ts.
 */
export interface AdaptationMethod {
  /** One line: what it does, after whom. */
  description: string;
  /** Source and target batches go through the extractor as one batch, so its BatchNorm normalises both alike. */
  aligned: boolean;
  /** Made after the network (so random initialisations keep their order), once per training run. */
  start?(o: MethodOptions): MethodRun;
  /** The learning rate at training progress p ∈ [0, 1) (default: the base rate throughout). */
  learningRate?(base: number, progress: number): number;
  /** Training of its own, built from plain source-only runs (self-training's rounds of pseudo-labels). */
  train?(
    source: SourceSplit,
    target: tf.Tensor,
    round: Round,
    o: { selfTrain?: { rounds?: number; threshold?: number } },
  ): Promise<AdaptResult>;
  /** After training, how the trained network is changed for the target (AdaBN: target BatchNorm statistics). */
  adaptTo?(model: tf.LayersModel, target: tf.Tensor): void;
  /** The frozen trunk's own BatchNorm statistics are re-estimated on the target before its features (AdaBN). */
  trunkStatistics?: boolean;
}

export interface AdaptOptions {
  /** Passes over the source features (default 30). */
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Bottleneck width (default 256). */
  bottleneck?: number;
  /** Weight of the CORAL term (default 1, as Sun and Saenko). */
  coralWeight?: number;
  /** Self-training: rounds of pseudo-labelling after the source-only round, and the confidence a pseudo-label needs. */
  selfTrain?: { rounds?: number; threshold?: number };
  /**
   * DANN: how the extractor plays against the domain classifier. 'reversal' (default, Ganin et al.):
   * a gradient reversal layer, the extractor maximises the classifier's loss. 'confusion' (Tzeng et
   * al. 2015): the classifier minimises its loss on features it cannot change, the extractor the
   * confusion loss (λ-weighted) through a classifier it cannot change: bounded, and stable where
   * the reversal oscillates (a whole trunk trained with Adam).
   */
  adversary?: 'reversal' | 'confusion';
  seed?: number;
  /**
   * A trainable feature extractor in front of the bottleneck (inputs are then images), made anew
   * for every training run. Without it the inputs are a frozen trunk's features.
   */
  trunk?: () => Promise<tf.LayersModel>;
  /** Where the network trains (default auto: ONNX Runtime where the step generator covers it). */
  trainEngine?: TrainEngine;
  /** Every epoch of every run (stage: the method's name, and the round for self-training). */
  callbacks?: readonly Callback[];
}
