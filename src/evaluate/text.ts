// Metrics of a text classifier on labelled texts.
import type { TextSet } from '../data/text/types.js';
import type { TextClassifier } from '../train/text.js';
import { classificationMetrics, type Metrics } from './metrics.js';

/** The most probable class of each row of row-major probabilities. */
export function argmaxRows(probs: ArrayLike<number>, classes: number): Int32Array {
  const out = new Int32Array(probs.length / classes);
  for (let i = 0; i < out.length; i++) for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + out[i]]) out[i] = c;
  return out;
}

/** `set` must use the classifier's class order (see relabelText). */
export async function evaluateText(c: TextClassifier, set: TextSet, o: { onProgress?: (done: number, total: number) => void } = {}): Promise<Metrics> {
  const probs = await c.predict(set.texts, o);
  return classificationMetrics(set.labels, argmaxRows(probs, c.classes.length), c.classes);
}
