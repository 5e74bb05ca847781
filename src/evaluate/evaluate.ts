import type { Normalize } from '../bases/types.js';
import type { ImageSet } from '../data/types.js';
import type { Predictor } from '../graft/graft.js';
import { predictSet } from '../train/tensors.js';
import { classificationMetrics, type Metrics } from './metrics.js';

/** Class probabilities for every image of a set, as rows. */
export function predictProbabilities(model: Predictor, set: ImageSet, normalize: Normalize): Float32Array[] {
  const probs = predictSet(model, set, normalize);
  const rows = probs.arraySync() as number[][];
  probs.dispose();
  return rows.map((r) => Float32Array.from(r));
}

export const argmax = (row: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
};

/** Metrics of a model on a set whose class order matches the model's outputs. */
export function evaluateModel(model: Predictor, set: ImageSet, normalize: Normalize, labels: string[]): Metrics {
  const predicted = predictProbabilities(model, set, normalize).map(argmax);
  return classificationMetrics(set.labels, predicted, labels);
}
