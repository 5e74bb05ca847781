// Metrics of a text classifier on labelled texts.
import type { TextSet } from '../data/text/types.js';
import { argmaxRows, classificationMetrics, type Metrics } from './metrics.js';

/** What evaluation needs of a text classifier: its classes and their probabilities for texts (row-major). */
export interface TextScorer {
  classes: string[];
  probabilities(texts: string[], o?: { onProgress?: (done: number, total: number) => void }): Promise<Float32Array>;
}

/** `set` must use the classifier's class order. */
export async function evaluateText(
  c: TextScorer,
  set: TextSet,
  o: { onProgress?: (done: number, total: number) => void } = {},
): Promise<Metrics> {
  const probs = await c.probabilities(set.texts, o);
  return classificationMetrics(set.labels, argmaxRows(probs, c.classes.length), c.classes);
}
