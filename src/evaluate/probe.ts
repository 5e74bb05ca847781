// The linear probe: multinomial logistic regression on standardised features, L2-regularised,
// solved by L-BFGS, cross-validated (the slow reference the scores estimate) or fitted on every
// row (the starting point of a linear head).
import { usageError } from '../core/errors.js';
import { stratifiedFolds } from '../math/folds.js';
import { lbfgs } from '../math/lbfgs.js';
import { classCounts, dense, dotArrays, standardizeInPlace, type Dense, type Features } from './matrix.js';

export interface ProbeResult {
  /** Mean held-out accuracy over the folds. */
  accuracy: number;
  folds: number;
}

export interface ProbeOptions {
  /** Stratified cross-validation folds (default 5). */
  folds?: number;
  /** L2 coefficient λ in mean cross-entropy + λ/2·‖W‖² (default 1/n_train: scikit-learn's C = 1). */
  l2?: number;
  /** Seeds the fold assignment (default 0); training itself is deterministic. */
  seed?: number;
  /** Most L-BFGS iterations per fold, each one full-batch pass or more (default 100). */
  epochs?: number;
}

/**
 * k-fold (stratified, seeded) cross-validated multinomial logistic regression on standardised
 * features, L2-regularised, trained by L-BFGS; the mean held-out accuracy. Standardising uses
 * all rows: label-free, as graft pools and standardises features once before scoring.
 */
export function linearProbe(f: Features, labels: Int32Array, classes: number, options: ProbeOptions = {}): ProbeResult {
  return probeProblem(f, labels, classes).crossValidate(options);
}

export interface LinearFitOptions {
  /** L2 coefficient λ in mean cross-entropy + λ/2·‖W‖² on standardised features (default 1/n, as linearProbe). */
  l2?: number;
  /** Most L-BFGS iterations (default 100). */
  epochs?: number;
}

/** A linear softmax classifier on raw features: logits = x·kernel + bias. */
export interface LinearClassifier {
  /** d x k, row-major: the layout of a Dense layer's kernel. */
  kernel: Float32Array;
  bias: Float32Array;
}

/**
 * The linear probe's model fitted on every row: multinomial logistic regression on standardised
 * features, L2-regularised, solved to convergence by L-BFGS, with the standardisation folded
 * back into the weights so it applies to the raw features. A Dense head initialised from it
 * starts where gradient descent on a few hundred samples would take many epochs to arrive.
 */
export function fitLinearClassifier(f: Features, labels: Int32Array, classes: number, options: LinearFitOptions = {}): LinearClassifier {
  return probeProblem(f, labels, classes).fit(options);
}

/**
 * Features prepared once for several probes on them: standardised, and when wide, their n x n
 * Gram matrix, which every fold, every L2 strength and the final fit read. Each call gives what
 * linearProbe or fitLinearClassifier give on the same features, to the bit, without preparing
 * them again: the start of a linear head (train/probe-head.ts) cross-validates a grid of L2
 * strengths and then fits the chosen one, 26 fits on the same rows.
 */
export interface ProbeProblem {
  /** linearProbe on these features. */
  crossValidate(options?: ProbeOptions): ProbeResult;
  /** fitLinearClassifier on these features. */
  fit(options?: LinearFitOptions): LinearClassifier;
}

export function probeProblem(f: Features, labels: Int32Array, classes: number): ProbeProblem {
  const x = standardizeInPlace(dense(f, 'features'));
  classCounts(labels, x.rows, classes);
  const n = x.rows;
  // Wide features train in kernel form (see fitKernel): n x n products instead of n x d.
  let gramMatrix: Float64Array | undefined;
  const solve = (p: Problem) => (2 * x.cols > n ? fitKernel((gramMatrix ??= gram(x)), x, p) : fitPrimal(x, p));
  const checkL2 = (l2: number | undefined) => {
    if (l2 !== undefined && !(l2 >= 0 && Number.isFinite(l2))) throw usageError(`l2 must be a number >= 0, got ${l2}`);
  };

  function crossValidate(options: ProbeOptions = {}): ProbeResult {
    const folds = options.folds ?? 5;
    const epochs = options.epochs ?? 100;
    const seed = options.seed ?? 0;
    if (!Number.isInteger(folds) || folds < 2 || folds > n)
      throw usageError(`folds must be an integer from 2 to ${n} (the number of samples), got ${folds}`);
    if (!Number.isInteger(epochs) || epochs < 1) throw usageError(`epochs must be a positive integer, got ${epochs}`);
    if (!Number.isFinite(seed)) throw usageError(`seed must be a number, got ${seed}`);
    checkL2(options.l2);
    const fold = stratifiedFolds(labels, classes, folds, seed);
    let total = 0;
    for (let k = 0; k < folds; k++) {
      const train: number[] = [];
      const test: number[] = [];
      fold.forEach((g, i) => (g === k ? test : train).push(i));
      const model = solve({ labels, classes, train, l2: options.l2 ?? 1 / train.length, epochs });
      total += test.filter((i) => predictRow(x, model, i) === labels[i]).length / test.length;
    }
    return { accuracy: total / folds, folds };
  }

  function fit(options: LinearFitOptions = {}): LinearClassifier {
    const epochs = options.epochs ?? 100;
    if (!Number.isInteger(epochs) || epochs < 1) throw usageError(`epochs must be a positive integer, got ${epochs}`);
    checkL2(options.l2);
    const { w, b } = solve({ labels, classes, train: Array.from({ length: n }, (_, i) => i), l2: options.l2 ?? 1 / n, epochs });
    const d = x.cols;
    const kernel = new Float32Array(d * classes);
    const bias = new Float32Array(classes);
    for (let c = 0; c < classes; c++) {
      let shift = 0;
      for (let j = 0; j < d; j++) {
        // w·((x − mean)·scale) = (w·scale)·x − Σ w·scale·mean
        const v = w[c * d + j] * x.scale[j];
        kernel[j * classes + c] = v;
        shift += v * x.mean[j];
      }
      bias[c] = b[c] - shift;
    }
    return { kernel, bias };
  }

  return { crossValidate, fit };
}

/**
 * X·Xᵀ (rows x rows) exactly as ml-matrix's mmulByTranspose computes it, which the probe used
 * before: each entry one sum over the columns in order from column 0, the upper triangle
 * mirrored, so the result is symmetric to the bit. Four rows against one per pass over the flat
 * array instead of an accessor call per element: a quarter of the time at 256 x 1280.
 */
export function gram(x: Dense): Float64Array {
  const { data, rows: n, cols: d } = x;
  const out = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const oj = j * d;
    let i = j;
    for (; i + 4 <= n; i += 4) {
      const o0 = i * d;
      const o1 = o0 + d;
      const o2 = o1 + d;
      const o3 = o2 + d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let c = 0; c < d; c++) {
        const v = data[oj + c];
        s0 += data[o0 + c] * v;
        s1 += data[o1 + c] * v;
        s2 += data[o2 + c] * v;
        s3 += data[o3 + c] * v;
      }
      out[i * n + j] = out[j * n + i] = s0;
      out[(i + 1) * n + j] = out[j * n + i + 1] = s1;
      out[(i + 2) * n + j] = out[j * n + i + 2] = s2;
      out[(i + 3) * n + j] = out[j * n + i + 3] = s3;
    }
    for (; i < n; i++) {
      const oi = i * d;
      let s = 0;
      for (let c = 0; c < d; c++) s += data[oi + c] * data[oj + c];
      out[i * n + j] = out[j * n + i] = s;
    }
  }
  return out;
}

/** One fit: the training rows (indices into the features and labels), λ and the most L-BFGS steps. */
interface Problem {
  labels: Int32Array;
  classes: number;
  train: number[];
  l2: number;
  epochs: number;
}

/**
 * Mean softmax cross-entropy of class-major logits (classes x m) for the training rows; writes
 * (P − Y)/m into `g`, the gradient with respect to the logits. `ys` holds the training rows'
 * labels and `e` (one per class) each row's exponentials, computed once and read twice.
 */
function crossEntropy(logits: Float64Array, classes: number, ys: Int32Array, g: Float64Array, e: Float64Array): number {
  const m = ys.length;
  let loss = 0;
  for (let i = 0; i < m; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[c * m + i]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += e[c] = Math.exp(logits[c * m + i] - max);
    const y = ys[i];
    loss += max + Math.log(sum) - logits[y * m + i];
    for (let c = 0; c < classes; c++) g[c * m + i] = (e[c] / sum - (c === y ? 1 : 0)) / m;
  }
  return loss / m;
}

/** Labels of the training rows, in their order. */
const trainLabels = (p: Problem) => Int32Array.from(p.train, (row) => p.labels[row]);

/** Parameters [W (classes x d), b (classes)] with logits b + Wx: cheap when d is small next to n. */
function fitPrimal(x: Dense, p: Problem): LinearModel {
  const { data, cols: d } = x;
  const k = p.classes;
  const m = p.train.length;
  const logits = new Float64Array(k * m);
  const g = new Float64Array(k * m);
  const [ys, e] = [trainLabels(p), new Float64Array(k)];
  const evaluate = (theta: Float64Array, grad: Float64Array) => {
    for (let c = 0; c < k; c++) {
      const w = theta.subarray(c * d, (c + 1) * d);
      p.train.forEach((row, i) => (logits[c * m + i] = theta[k * d + c] + dotArrays(w, data.subarray(row * d, (row + 1) * d))));
    }
    let loss = crossEntropy(logits, k, ys, g, e);
    grad.fill(0);
    for (let c = 0; c < k; c++) {
      const w = theta.subarray(c * d, (c + 1) * d);
      const gw = grad.subarray(c * d, (c + 1) * d);
      p.train.forEach((row, i) => {
        const gi = g[c * m + i];
        grad[k * d + c] += gi;
        for (let j = 0; j < d; j++) gw[j] += gi * data[row * d + j];
      });
      for (let j = 0; j < d; j++) gw[j] += p.l2 * w[j];
      loss += (p.l2 / 2) * dotArrays(w, w);
    }
    return loss;
  };
  const theta = lbfgs(evaluate, { size: k * d + k, dot: dotArrays, maxSteps: p.epochs });
  return { w: theta.subarray(0, k * d), b: theta.subarray(k * d) };
}

/** Class-major weights (classes x d) and biases, on the features the model was fitted on. */
interface LinearModel {
  w: Float64Array;
  b: Float64Array;
}

function predictRow(x: Dense, model: LinearModel, row: number): number {
  const d = x.cols;
  let best = 0;
  let bestLogit = -Infinity;
  for (let c = 0; c < model.b.length; c++) {
    const logit = model.b[c] + dotArrays(model.w.subarray(c * d, (c + 1) * d), x.data.subarray(row * d, (row + 1) * d));
    if (logit > bestLogit) [best, bestLogit] = [c, logit];
  }
  return best;
}

/**
 * out[offset + c·m + i] = Σ_j K[i, j]·G[c, j] for an m x m `kernel` and class-major G (classes x
 * m), each entry summed over j in order from 0, as a dot product of K's row i with G's row c sums
 * it; computed four rows by two classes at a time, eight independent sums.
 */
function kernelTimes(kernel: Float64Array, m: number, g: Float64Array, classes: number, out: Float64Array, offset: number): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const r0 = i * m;
    const r1 = r0 + m;
    const r2 = r1 + m;
    const r3 = r2 + m;
    let c = 0;
    for (; c + 2 <= classes; c += 2) {
      const ga = c * m;
      const gb = ga + m;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let b0 = 0;
      let b1 = 0;
      let b2 = 0;
      let b3 = 0;
      for (let j = 0; j < m; j++) {
        const u = g[ga + j];
        const v = g[gb + j];
        const k0 = kernel[r0 + j];
        const k1 = kernel[r1 + j];
        const k2 = kernel[r2 + j];
        const k3 = kernel[r3 + j];
        a0 += k0 * u;
        a1 += k1 * u;
        a2 += k2 * u;
        a3 += k3 * u;
        b0 += k0 * v;
        b1 += k1 * v;
        b2 += k2 * v;
        b3 += k3 * v;
      }
      const oa = offset + ga + i;
      const ob = offset + gb + i;
      out[oa] = a0;
      out[oa + 1] = a1;
      out[oa + 2] = a2;
      out[oa + 3] = a3;
      out[ob] = b0;
      out[ob + 1] = b1;
      out[ob + 2] = b2;
      out[ob + 3] = b3;
    }
    for (; c < classes; c++) {
      const ga = c * m;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let j = 0; j < m; j++) {
        const u = g[ga + j];
        a0 += kernel[r0 + j] * u;
        a1 += kernel[r1 + j] * u;
        a2 += kernel[r2 + j] * u;
        a3 += kernel[r3 + j] * u;
      }
      const oa = offset + ga + i;
      out[oa] = a0;
      out[oa + 1] = a1;
      out[oa + 2] = a2;
      out[oa + 3] = a3;
    }
  }
  for (; i < m; i++) {
    for (let c = 0; c < classes; c++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += kernel[i * m + j] * g[c * m + j];
      out[offset + c * m + i] = s;
    }
  }
}

/**
 * The same model when d is large: the L2 optimum W lies in the span of the training rows
 * (representer theorem), so W = X'A and training logits are KA with K = XX'. L-BFGS still runs
 * in W's geometry: a vector is stored as [A, b, KA] (all linear in W), and the inner product of
 * two is Σ A⊙K'A' + b·b'. One m x m product per evaluation, no decomposition.
 */
function fitKernel(kernel: Float64Array, x: Dense, p: Problem): LinearModel {
  const n = x.rows;
  const k = p.classes;
  const m = p.train.length;
  const kTrain = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    const r = p.train[i] * n;
    for (let j = 0; j < m; j++) kTrain[i * m + j] = kernel[r + p.train[j]];
  }
  const size = 2 * k * m + k; // A (k x m), b (k), KA (k x m)
  const ka = k * m + k;
  const dot = (u: Float64Array, v: Float64Array) => {
    let s = 0;
    for (let i = 0; i < k * m; i++) s += u[i] * v[ka + i];
    for (let c = 0; c < k; c++) s += u[k * m + c] * v[k * m + c];
    return s;
  };
  const logits = new Float64Array(k * m);
  const g = new Float64Array(k * m);
  const [ys, e] = [trainLabels(p), new Float64Array(k)];
  const l2 = p.l2;
  const evaluate = (theta: Float64Array, grad: Float64Array) => {
    for (let c = 0; c < k; c++) for (let i = 0; i < m; i++) logits[c * m + i] = theta[ka + c * m + i] + theta[k * m + c];
    let loss = crossEntropy(logits, k, ys, g, e);
    let norm = 0;
    for (let i = 0; i < k * m; i++) norm += theta[i] * theta[ka + i];
    loss += (l2 / 2) * norm;
    // ∇_W = X'(G + λA): A-part G + λA, KA-part KG + λKA, b-part Σ_i G.
    for (let c = 0; c < k; c++) {
      let gb = 0;
      for (let i = 0; i < m; i++) {
        grad[c * m + i] = g[c * m + i] + l2 * theta[c * m + i];
        gb += g[c * m + i];
      }
      grad[k * m + c] = gb;
    }
    kernelTimes(kTrain, m, g, k, grad, ka);
    for (let i = ka; i < size; i++) grad[i] += l2 * theta[i];
    return loss;
  };
  const theta = lbfgs(evaluate, { size, dot, maxSteps: p.epochs });
  return { w: spanWeights(x, p.train, theta, k), b: theta.subarray(k * m, k * m + k) };
}

/**
 * W = X'A (classes x d) for A (classes x m, the first k·m entries of `a`) over the rows `train`,
 * built once so that predicting costs d per class, not one kernel row. Every weight sums its
 * terms over the training rows in order; four rows a pass, so W is read and written a quarter
 * as often.
 */
function spanWeights(x: Dense, train: number[], a: Float64Array, classes: number): Float64Array {
  const { data, cols: d } = x;
  const m = train.length;
  const w = new Float64Array(classes * d);
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const x0 = train[i] * d;
    const x1 = train[i + 1] * d;
    const x2 = train[i + 2] * d;
    const x3 = train[i + 3] * d;
    for (let c = 0; c < classes; c++) {
      const ac = c * m + i;
      const [a0, a1, a2, a3] = [a[ac], a[ac + 1], a[ac + 2], a[ac + 3]];
      const wc = c * d;
      for (let j = 0; j < d; j++) {
        let v = w[wc + j];
        v += a0 * data[x0 + j];
        v += a1 * data[x1 + j];
        v += a2 * data[x2 + j];
        v += a3 * data[x3 + j];
        w[wc + j] = v;
      }
    }
  }
  for (; i < m; i++) {
    const row = train[i] * d;
    for (let c = 0; c < classes; c++) {
      const ai = a[c * m + i];
      const wc = c * d;
      for (let j = 0; j < d; j++) w[wc + j] += ai * data[row + j];
    }
  }
  return w;
}
