// The shapes of a training step's losses: what the step asks for (StepLoss), what a loss reads
// and declares (LossContext) and what it returns (LossGradients). Apart from the loss modules so
// that losses.ts (which dispatches) and each loss it dispatches to share them without a cycle.
import type * as tf from '@tensorflow/tfjs';

export type TaskLossKind = 'classification' | 'multi-label' | 'regression';

/** A variable the step trains beside the model's weights (TF.js's tf.Variable, or a layer's). */
export interface StepVariable {
  readonly shape: readonly (number | null)[];
  read(): { data(): Promise<Float32Array | Int32Array | Uint8Array> };
  write(values: tf.Tensor): unknown;
}

export type StepLoss =
  /** TF.js's categoricalCrossentropy on the one softmax output, mean over the batch. Feeds `y` (one-hot). */
  | { kind: 'categorical' }
  /**
   * Σ weight · (each task's loss over its labelled rows). Feeds `y{t}` (targets, unlabelled rows
   * zero) and `mask{t}` (1 where labelled) per task, in output order. With `logVariance`, the
   * weights are learned instead (Kendall et al.'s uncertainty weighting, as jointLoss computes
   * it): the variable holding log σ² per task trains with the model.
   */
  | { kind: 'masked-tasks'; tasks: { kind: TaskLossKind; weight: number }[]; logVariance?: StepVariable }
  /**
   * Domain adaptation (strategies/adapt): the batch is source rows, then target rows. Feeds `y`
   * (one-hot, the source rows only). The source rows' cross-entropy as trainAdaptation writes it
   * (softmaxCrossEntropy of log(p + 1e-7)), plus `term` on the output of layer `features` (the
   * bottleneck) over all rows.
   */
  | { kind: 'adaptation'; features: string; term: DomainTerm }
  /**
   * CenterNet's loss (train/detection-loss.ts) on the one output, the head's [h, w, C + 4] grid.
   * Feeds `y`, the targets as encodeTargets makes them ([n, h, w, C + 6]); `size` and `offset`
   * weigh the box terms against the heatmap's.
   */
  | { kind: 'detection'; classes: number; size: number; offset: number };

/** A tensor as the loss sees it. */
export interface LossOutput {
  name: string;
  /** Values per example (classes, or a regression's outputs). */
  units: number;
}

/** What a loss reads: the model's outputs, the tensor it names (adaptation's features), and variables of its own. */
export interface LossContext {
  outputs: LossOutput[];
  features?: LossOutput;
  /** A trainable variable of the loss's own (learned task weights, a domain classifier): its value in the graph, shaped. */
  variable(v: StepVariable, base: string, shape: number[]): string;
}

/** d loss / d each output (and the named features), and the gradients of the loss's own variables (by the names `variable` gave). */
export interface LossGradients {
  dOutputs: string[];
  dFeatures?: string;
  grads: [variable: string, grad: string][];
}

export type DomainTerm =
  /** Source only (and AdaBN, self-training's rounds, the target oracle): the cross-entropy alone. */
  | { kind: 'none' }
  /** Deep CORAL: weight · ‖C_s − C_t‖²_F / 4d² (adapt/losses.ts coralLoss). */
  | { kind: 'coral'; weight: number }
  /**
   * DANN's domain classifier (features → hidden ReLU → 1 logit; its weights [W1, b1, W2, b2]),
   * trained on sigmoid cross-entropy (source 0, target 1). 'reversal': the features get −λ times
   * its gradient; 'confusion': they get λ times the gradient of the confusion loss through the
   * held classifier. Feeds the scalar `lambda` each step.
   */
  | { kind: 'domain-classifier'; adversary: 'reversal' | 'confusion'; weights: [StepVariable, StepVariable, StepVariable, StepVariable] };
