// The joint loss of a multi-task model. Each task's loss is averaged over the samples labelled
// for that task only (a mask per task), so a sample labelled for some tasks trains those heads
// and leaves the others' gradients untouched. Tasks are then weighted by fixed weights, or by
// homoscedastic uncertainty (Kendall, Gal and Cipolla, "Multi-Task Learning Using Uncertainty to
// Weigh Losses for Scene Geometry and Semantics", CVPR 2018): one learned s = log σ² per task.
import * as tf from '@tensorflow/tfjs';
import type { TaskKind } from '../data/multitask/types.js';

const EPS = 1e-7;

/**
 * One task's loss over a batch and how many of its samples carried a label.
 * classification: `truth` int32 [n] of class indices, -1 for unlabelled; `predicted` softmax [n, k].
 * multi-label: `truth` float [n, k] of 0/1, NaN rows unlabelled; `predicted` sigmoid [n, k].
 * regression: `truth` float [n, k], NaN rows unlabelled; `predicted` [n, k]; mean squared error.
 * An all-unlabelled batch gives a loss of 0 (and no gradient).
 */
export function maskedTaskLoss(kind: TaskKind, truth: tf.Tensor, predicted: tf.Tensor): { loss: tf.Scalar; labelled: tf.Scalar } {
  return tf.tidy(() => {
    let mask: tf.Tensor1D;
    let perSample: tf.Tensor1D;
    if (kind === 'classification') {
      mask = tf.cast(tf.greaterEqual(truth, 0), 'float32') as tf.Tensor1D;
      const k = predicted.shape[1]!;
      const oneHot = tf.oneHot(tf.cast(tf.maximum(truth, 0), 'int32') as tf.Tensor1D, k);
      perSample = tf.neg(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(predicted, EPS, 1))), 1)) as tf.Tensor1D;
    } else {
      const missing = tf.isNaN(truth);
      mask = tf.sub(1, tf.cast(tf.any(missing, 1), 'float32')) as tf.Tensor1D;
      // NaN targets become 0 before any arithmetic, or NaN × 0 would still be NaN.
      const y = tf.where(missing, tf.zerosLike(truth), truth);
      if (kind === 'multi-label') {
        const p = tf.clipByValue(predicted, EPS, 1 - EPS);
        perSample = tf.neg(tf.mean(tf.add(tf.mul(y, tf.log(p)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p)))), 1)) as tf.Tensor1D;
      } else {
        perSample = tf.mean(tf.square(tf.sub(predicted, y)), 1) as tf.Tensor1D;
      }
    }
    const labelled = tf.sum(mask) as tf.Scalar;
    // Unlabelled rows are multiplied by 0 here: their prediction gets no gradient from this task.
    const loss = tf.div(tf.sum(tf.mul(perSample, mask)), tf.maximum(labelled, 1)) as tf.Scalar;
    return { loss, labelled };
  });
}

/** How task losses add up: fixed weights, or learned uncertainty (one log σ² per task). */
export type TaskWeighting = { kind: 'fixed'; weights: number[] } | { kind: 'uncertainty'; logVariance: tf.Variable };

/** A variable of log σ² per task, starting at 0 (σ = 1: every task weighted 1, as fixed weights of 1). */
export function uncertaintyWeights(tasks: number): TaskWeighting {
  return { kind: 'uncertainty', logVariance: tf.variable(tf.zeros([tasks]), true, 'task_log_variance') };
}

/**
 * The joint loss. Uncertainty weighting, with s = log σ²: a regression task adds
 * ½·e^(−s)·L + ½·s (a Gaussian likelihood), a classification or multi-label task e^(−s)·L + ½·s
 * (Kendall et al.'s softmax approximation; log σ = ½·s). Minimising over s gives the task weight
 * e^(−s) = 1/(2L) for classification: noisier (higher-loss) tasks are weighted down, and the
 * ½·s term keeps σ from growing without bound.
 */
export function jointLoss(losses: tf.Scalar[], kinds: TaskKind[], weighting: TaskWeighting): tf.Scalar {
  return tf.tidy(() => {
    if (weighting.kind === 'fixed') return tf.addN(losses.map((l, t) => tf.mul(l, weighting.weights[t]))) as tf.Scalar;
    const s = weighting.logVariance;
    const terms = losses.map((l, t) => {
      const st = tf.gather(s, t);
      const scaled = tf.mul(tf.exp(tf.neg(st)), l);
      return tf.add(kinds[t] === 'regression' ? tf.mul(0.5, scaled) : scaled, tf.mul(0.5, st));
    });
    return tf.addN(terms) as tf.Scalar;
  });
}

/** The weight each task's loss carries now: the fixed weights, or e^(−s) (½·e^(−s) for regression). */
export function taskWeights(kinds: TaskKind[], weighting: TaskWeighting): number[] {
  if (weighting.kind === 'fixed') return [...weighting.weights];
  const s = weighting.logVariance.dataSync();
  return kinds.map((k, t) => (k === 'regression' ? 0.5 : 1) * Math.exp(-s[t]));
}
