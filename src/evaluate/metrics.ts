// Classification metrics from true and predicted class indices.

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Metrics {
  accuracy: number;
  macroF1: number;
  perClass: ClassMetrics[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  n: number;
}

export function classificationMetrics(truth: ArrayLike<number>, predicted: ArrayLike<number>, labels: string[]): Metrics {
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    confusion[truth[i]][predicted[i]]++;
    if (truth[i] === predicted[i]) correct++;
  }
  const perClass = labels.map((label, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predictedC = confusion.reduce((a, row) => a + row[c], 0);
    const precision = predictedC ? tp / predictedC : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  // Macro-F1 over the classes present in the truth, as scikit-learn does when labels are given by the data.
  const present = perClass.filter((c) => c.support > 0);
  const macroF1 = present.length ? present.reduce((a, c) => a + c.f1, 0) / present.length : 0;
  return { accuracy: truth.length ? correct / truth.length : 0, macroF1, perClass, confusion, n: truth.length };
}

/** The most probable class of each row of row-major probabilities (`classes` numbers per row). */
export function argmaxRows(probs: ArrayLike<number>, classes: number): Int32Array {
  const out = new Int32Array(probs.length / classes);
  for (let i = 0; i < out.length; i++)
    for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + out[i]]) out[i] = c;
  return out;
}

/** The k most probable labels, most probable first (at least one). */
export function topK(probs: ArrayLike<number>, labels: string[], k: number): { label: string; probability: number }[] {
  const ranked = Array.from(probs, (p, i) => ({ label: labels[i], probability: p })).sort((a, b) => b.probability - a.probability);
  return ranked.slice(0, Math.max(1, k));
}
