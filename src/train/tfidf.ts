// The from-scratch text baseline a transferred text base has to beat: TF-IDF over word n-grams
// plus L2-regularised multinomial logistic regression, with scikit-learn's conventions
// (TfidfVectorizer(sublinear_tf=True, smooth_idf=True, norm='l2'), LogisticRegression(C)) so
// numbers compare with the usual sklearn baseline.
//
// Why not fitLinearClassifier (src/evaluate/probe.ts): it copies the features into a
// dense float64 n x d matrix (6,000 mails x 50,000 n-grams = 2.4 GB) and standardises every
// column, which destroys the sparsity and rescales rare n-grams to the weight of common ones,
// undoing what the idf weighting and row normalisation set up. Here the rows stay sparse (CSR)
// and one loss evaluation costs O(nonzeros x classes).
import { stratifiedFolds } from '../math/folds.js';
import { lbfgs } from '../math/lbfgs.js';
import { argmax } from '../math/stats.js';
import { usageError } from '../core/errors.js';

/** Sparse rows (CSR): row i's columns are indices[indptr[i] .. indptr[i+1]), ascending. */
export interface SparseRows {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

export interface TfidfVectorizerOptions {
  /**
   * Word n-grams from 1 up to this (default 1). Bigrams measured on spam-assassin (4,728 training
   * mails): +0.15 points of test accuracy for 4x the time (~25 s against ~6 s, with the λ search).
   */
  ngrams?: number;
  /** Keep terms in at least this many training texts (default 2). */
  minDf?: number;
  /** Keep at most this many terms, the most frequent by document frequency (default 100,000). */
  maxFeatures?: number;
}

/** A fitted TF-IDF vocabulary: term → column, and each column's idf. */
export interface TfidfVectorizer {
  vocabulary: Map<string, number>;
  idf: Float64Array;
  /** Word n-grams from 1 up to this. */
  ngrams: number;
  transform(texts: string[]): SparseRows;
}

/**
 * scikit-learn's default token pattern \b\w\w+\b, lowercased: words of two or more letters,
 * digits or underscores (single characters and punctuation are dropped).
 */
const WORD = /[\p{L}\p{N}_]{2,}/gu;

function terms(text: string, ngrams: number): string[] {
  const words = text.toLowerCase().match(WORD) ?? [];
  const out = [...words];
  for (let n = 2; n <= ngrams; n++) for (let i = 0; i + n <= words.length; i++) out.push(words.slice(i, i + n).join(' '));
  return out;
}

function positiveInteger(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw usageError(`${what} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Fits the vocabulary and idf on `texts`: idf = ln((1 + n) / (1 + df)) + 1 (smoothed); a text's
 * row is (1 + ln count) · idf per term (sublinear tf), L2-normalised (all-zero rows stay zero).
 * Columns are the kept terms in alphabetical order.
 */
export function fitTfidfVectorizer(texts: string[], o: TfidfVectorizerOptions = {}): TfidfVectorizer {
  const ngrams = positiveInteger(o.ngrams ?? 1, 'ngrams');
  const minDf = positiveInteger(o.minDf ?? 2, 'minDf');
  const maxFeatures = positiveInteger(o.maxFeatures ?? 100_000, 'maxFeatures');
  const df = new Map<string, number>();
  for (const text of texts) for (const t of new Set(terms(text, ngrams))) df.set(t, (df.get(t) ?? 0) + 1);
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  let kept = [...df].filter(([, c]) => c >= minDf);
  if (kept.length > maxFeatures) kept = kept.sort((a, b) => b[1] - a[1] || byName(a[0], b[0])).slice(0, maxFeatures);
  kept.sort((a, b) => byName(a[0], b[0]));
  const vocabulary = new Map(kept.map(([t], j) => [t, j]));
  const idf = Float64Array.from(kept, ([, c]) => Math.log((1 + texts.length) / (1 + c)) + 1);
  return vectorizerOf(vocabulary, idf, ngrams);
}

/** A vectorizer from its fitted state (as fitTfidfVectorizer returns it, or as saved). */
function vectorizerOf(vocabulary: Map<string, number>, idf: Float64Array, ngrams: number): TfidfVectorizer {
  const transform = (batch: string[]): SparseRows => {
    const indptr = new Int32Array(batch.length + 1);
    const indices: number[] = [];
    const values: number[] = [];
    batch.forEach((text, i) => {
      const counts = new Map<number, number>();
      for (const t of terms(text, ngrams)) {
        const j = vocabulary.get(t);
        if (j !== undefined) counts.set(j, (counts.get(j) ?? 0) + 1);
      }
      const cols = [...counts.keys()].sort((a, b) => a - b);
      const row = cols.map((j) => (1 + Math.log(counts.get(j)!)) * idf[j]);
      const norm = Math.sqrt(row.reduce((a, v) => a + v * v, 0)) || 1;
      cols.forEach((j, k) => {
        indices.push(j);
        values.push(row[k] / norm);
      });
      indptr[i + 1] = indices.length;
    });
    return { rows: batch.length, cols: vocabulary.size, indptr, indices: Int32Array.from(indices), values: Float64Array.from(values) };
  };
  return { vocabulary, idf, ngrams, transform };
}

// ---------------------------------------------------------------------------------------------
// Sparse multinomial logistic regression

/** Weights feature-major (d x k, so a nonzero's k classes are contiguous), then k biases. */
interface Softmax {
  theta: Float64Array;
  cols: number;
  classes: number;
}

function logitsOf(x: SparseRows, i: number, m: Softmax, out: Float64Array): void {
  const k = m.classes;
  out.set(m.theta.subarray(m.cols * k, m.cols * k + k));
  for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) {
    const v = x.values[p];
    const w = x.indices[p] * k;
    for (let c = 0; c < k; c++) out[c] += v * m.theta[w + c];
  }
}

/** Softmax in place; returns log Σ exp (for the loss). */
function softmaxInPlace(z: Float64Array): number {
  const max = Math.max(...z);
  let sum = 0;
  for (let c = 0; c < z.length; c++) sum += z[c] = Math.exp(z[c] - max);
  for (let c = 0; c < z.length; c++) z[c] /= sum;
  return max + Math.log(sum);
}

interface Problem {
  x: SparseRows;
  labels: Int32Array;
  classes: number;
  rows: Int32Array;
  l2: number;
}

/** Mean cross-entropy over `rows` + λ/2‖W‖² (biases unpenalised); writes the gradient. */
function objective(p: Problem, theta: Float64Array, grad: Float64Array): number {
  const { x, classes: k } = p;
  const d = x.cols;
  const m: Softmax = { theta, cols: d, classes: k };
  const z = new Float64Array(k);
  grad.fill(0);
  let loss = 0;
  const scale = 1 / p.rows.length;
  for (const i of p.rows) {
    logitsOf(x, i, m, z);
    const y = p.labels[i];
    const zy = z[y];
    loss += softmaxInPlace(z) - zy;
    z[y] -= 1;
    for (let c = 0; c < k; c++) grad[d * k + c] += z[c] * scale;
    for (let q = x.indptr[i]; q < x.indptr[i + 1]; q++) {
      const v = x.values[q] * scale;
      const w = x.indices[q] * k;
      for (let c = 0; c < k; c++) grad[w + c] += v * z[c];
    }
  }
  loss *= scale;
  let norm = 0;
  for (let j = 0; j < d * k; j++) {
    norm += theta[j] * theta[j];
    grad[j] += p.l2 * theta[j];
  }
  return loss + (p.l2 / 2) * norm;
}

// ---------------------------------------------------------------------------------------------
// The baseline

export interface TfidfOptions extends TfidfVectorizerOptions {
  /**
   * L2 coefficient λ in mean cross-entropy + λ/2·‖W‖². Default: cross-validated over
   * scikit-learn's C ∈ {1, 10, 100, 1000} (λ = 1/(C·n)).
   */
  l2?: number;
  /** Stratified folds for choosing λ (default 3). */
  folds?: number;
  /** Seeds the fold assignment (default 0); everything else is deterministic. */
  seed?: number;
  /** Most L-BFGS steps per fit (default 200). */
  maxSteps?: number;
}

export interface TfidfClassifier {
  vectorizer: TfidfVectorizer;
  /** The λ used for the final fit. */
  l2: number;
  /** Mean held-out accuracy per λ tried (empty when λ was given). */
  cv: { l2: number; accuracy: number; logLoss: number }[];
  predict(texts: string[]): Int32Array;
  /** Class probabilities, row-major n x classes. */
  proba(texts: string[]): Float32Array;
  /** Everything needed to rebuild it (restoreTfidf): JSON-safe. */
  toJSON(): SavedTfidf;
}

/** A fitted TF-IDF classifier as plain data: terms in column order, then the weights (feature-major d x k, then k biases). */
export interface SavedTfidf {
  terms: string[];
  idf: number[];
  ngrams: number;
  classes: number;
  l2: number;
  weights: number[];
}

const C_GRID = [1, 10, 100, 1000];

/**
 * TF-IDF (fitTfidfVectorizer) + multinomial logistic regression, L2-regularised, trained by
 * L-BFGS. λ is picked by stratified k-fold accuracy on the training texts (ties: lower held-out
 * log-loss), each fold walking the C grid from strong to weak regularisation with warm starts.
 * The vocabulary and idf are fitted once on all training texts before the folds: label-free
 * statistics, as linearProbe standardises on all rows.
 */
export function fitTfidf(trainTexts: string[], labels: Int32Array, classes: number, o: TfidfOptions = {}): TfidfClassifier {
  const n = trainTexts.length;
  if (labels.length !== n) throw usageError(`${labels.length} labels for ${n} texts`);
  if (!Number.isInteger(classes) || classes < 2) throw usageError(`classes must be an integer >= 2, got ${classes}`);
  labels.forEach((y, i) => {
    if (!(y >= 0 && y < classes)) throw usageError(`label ${y} of text ${i} is outside 0..${classes - 1}`);
  });
  if (o.l2 !== undefined && !(o.l2 >= 0 && Number.isFinite(o.l2))) throw usageError(`l2 must be a number >= 0, got ${o.l2}`);
  const maxSteps = positiveInteger(o.maxSteps ?? 200, 'maxSteps');
  const vectorizer = fitTfidfVectorizer(trainTexts, o);
  const x = vectorizer.transform(trainTexts);
  const size = (x.cols + 1) * classes;
  const fit = (rows: Int32Array, l2: number, start: Float64Array = new Float64Array(size)): Float64Array =>
    lbfgs((t, g) => objective({ x, labels, classes, rows, l2 }, t, g), { start, maxSteps, tolerance: { norm: 'max', below: 1e-5 } });

  const cv: TfidfClassifier['cv'] = [];
  let l2 = o.l2;
  if (l2 === undefined) {
    const folds = positiveInteger(o.folds ?? 3, 'folds');
    if (folds < 2 || folds > n) throw usageError(`folds must be from 2 to ${n} (the number of texts), got ${folds}`);
    const fold = stratifiedFolds(labels, classes, folds, o.seed ?? 0);
    const scores = C_GRID.map(() => ({ correct: 0, logLoss: 0 }));
    for (let k = 0; k < folds; k++) {
      const train = Int32Array.from(fold.keys()).filter((i) => fold[i] !== k);
      const test = Int32Array.from(fold.keys()).filter((i) => fold[i] === k);
      let theta: Float64Array | undefined;
      C_GRID.forEach((c, g) => {
        theta = fit(train, 1 / (c * train.length), theta);
        const p = new Float64Array(classes);
        for (const i of test) {
          logitsOf(x, i, { theta: theta, cols: x.cols, classes }, p);
          softmaxInPlace(p);
          if (argmax(p) === labels[i]) scores[g].correct++;
          scores[g].logLoss -= Math.log(Math.max(p[labels[i]], 1e-300));
        }
      });
    }
    C_GRID.forEach((c, g) => cv.push({ l2: 1 / (c * n), accuracy: scores[g].correct / n, logLoss: scores[g].logLoss / n }));
    l2 = [...cv].sort((a, b) => b.accuracy - a.accuracy || a.logLoss - b.logLoss)[0].l2;
  }
  const model: Softmax = { theta: fit(Int32Array.from(labels.keys()), l2), cols: x.cols, classes };
  return classifierOf(vectorizer, model, l2, cv);
}

/** Rebuild a classifier saved with toJSON. */
export function restoreTfidf(saved: SavedTfidf): TfidfClassifier {
  const { terms, idf, ngrams, classes, l2, weights } = saved;
  if (weights.length !== (terms.length + 1) * classes || idf.length !== terms.length)
    throw usageError('saved TF-IDF model: weights, idf and terms do not match in size');
  const vectorizer = vectorizerOf(new Map(terms.map((t, j) => [t, j])), Float64Array.from(idf), ngrams);
  return classifierOf(vectorizer, { theta: Float64Array.from(weights), cols: terms.length, classes }, l2, []);
}

function classifierOf(vectorizer: TfidfVectorizer, model: Softmax, l2: number, cv: TfidfClassifier['cv']): TfidfClassifier {
  const { classes } = model;
  const proba = (texts: string[]): Float32Array => {
    const rows = vectorizer.transform(texts);
    const out = new Float32Array(texts.length * classes);
    const z = new Float64Array(classes);
    for (let i = 0; i < texts.length; i++) {
      logitsOf(rows, i, model, z);
      softmaxInPlace(z);
      out.set(z, i * classes);
    }
    return out;
  };
  const predict = (texts: string[]): Int32Array => {
    const p = proba(texts);
    return Int32Array.from({ length: texts.length }, (_, i) => argmax(p.subarray(i * classes, (i + 1) * classes)));
  };
  const toJSON = (): SavedTfidf => ({
    terms: [...vectorizer.vocabulary.keys()].sort((a, b) => vectorizer.vocabulary.get(a)! - vectorizer.vocabulary.get(b)!),
    idf: Array.from(vectorizer.idf),
    ngrams: vectorizer.ngrams,
    classes,
    l2,
    weights: Array.from(model.theta),
  });
  return { vectorizer, l2, cv, predict, proba, toJSON };
}
