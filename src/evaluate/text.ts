// Metrics of a text classifier on labelled texts.
import type { TextSet } from '../data/text/types.js';
import type { TextClassifier } from '../train/text.js';
import { argmaxRows, classificationMetrics, type Metrics } from './metrics.js';

/** `set` must use the classifier's class order. */
export async function evaluateText(
  c: TextClassifier,
  set: TextSet,
  o: { onProgress?: (done: number, total: number) => void } = {},
): Promise<Metrics> {
  const probs = await c.predict(set.texts, o);
  return classificationMetrics(set.labels, argmaxRows(probs, c.classes.length), c.classes);
}
