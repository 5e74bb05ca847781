// Metrics of image classifiers: any predictor over a set, or a graft that has just trained (its
// frozen part on the fast engine and through the feature cache, as in training).
import * as tf from '@tensorflow/tfjs';
import type { Normalize, Predictor } from '../bases/types.js';
import type { ImageSet } from '../data/types.js';
import type { FeatureCache } from '../engine/feature-cache.js';
import { extractFeatures, predictSet } from '../engine/features.js';
import { headBoundary, trainablePart, withFrozenPart, type Engine } from '../engine/frozen.js';
import { pipeline, type Grafted } from '../graft/graft.js';
import { argmax } from '../math/stats.js';
import { classificationMetrics, type Metrics } from './metrics.js';

/** Class probabilities for every image of a set, as rows. */
export async function predictProbabilities(model: Predictor, set: ImageSet, normalize: Normalize): Promise<Float32Array[]> {
  const probs = await predictSet(model, set, normalize);
  const rows = probs.arraySync() as number[][];
  probs.dispose();
  return rows.map((r) => Float32Array.from(r));
}

/** Metrics of a model on a set whose class order matches the model's outputs. */
export async function evaluateModel(model: Predictor, set: ImageSet, normalize: Normalize, labels: string[]): Promise<Metrics> {
  const predicted = (await predictProbabilities(model, set, normalize)).map(argmax);
  return classificationMetrics(set.labels, predicted, labels);
}

export interface GraftedEvalOptions {
  /** The lowest layer training left unchanged (the last stage's `trainableFrom`); default: the head's. */
  boundary?: string;
  engine?: Engine;
  cache?: FeatureCache;
}

/**
 * Metrics of a graft that has just trained, on each of the named sets: the part below `boundary`
 * is still the base's, so it runs on the fastest engine and through the feature cache (a later
 * run with another seed finds every image of the data set there); only the part above is TF.js.
 */
export async function evaluateGrafted<K extends string>(
  g: Grafted,
  sets: Record<K, ImageSet>,
  o: GraftedEvalOptions = {},
): Promise<Record<K, Metrics>> {
  const names = Object.keys(sets) as K[];
  const out = {} as Record<K, Metrics>;
  if (g.scratch) {
    for (const k of names) out[k] = await evaluateModel(pipeline(g), sets[k], g.base.normalize, g.classes);
    return out;
  }
  const boundary = o.boundary ?? headBoundary(g);
  await withFrozenPart(g, boundary, o.engine, async (part) => {
    const above = trainablePart(g, boundary);
    try {
      for (const k of names) {
        const { features } = await extractFeatures(part, sets[k], { normalize: g.base.normalize, cache: o.cache });
        const probs = above.predict(features, { batchSize: 64 }) as tf.Tensor;
        out[k] = classificationMetrics(sets[k].labels, (probs.arraySync() as number[][]).map(argmax), g.classes);
        tf.dispose([features, probs]);
      }
    } finally {
      if (above !== g.model) above.dispose();
    }
  });
  return out;
}
