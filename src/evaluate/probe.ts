// The linear probe: multinomial logistic regression on standardised features, L2-regularised,
// solved by L-BFGS, cross-validated (the slow reference the scores estimate) or fitted on every
// row (the starting point of a linear head).
import { usageError } from '../core/errors.js';
import { stratifiedFolds } from '../math/folds.js';
import { lbfgs } from '../math/lbfgs.js';
import { classCounts, dense, dotArrays, standardizeInPlace, toMatrix, type Dense, type Features } from './matrix.js';

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
  const x = standardizeInPlace(dense(f, 'features'));
  classCounts(labels, x.rows, classes);
  const n = x.rows;
  const folds = options.folds ?? 5;
  const epochs = options.epochs ?? 100;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(folds) || folds < 2 || folds > n)
    throw usageError(`folds must be an integer from 2 to ${n} (the number of samples), got ${folds}`);
  if (!Number.isInteger(epochs) || epochs < 1) throw usageError(`epochs must be a positive integer, got ${epochs}`);
  if (!Number.isFinite(seed)) throw usageError(`seed must be a number, got ${seed}`);
  if (options.l2 !== undefined && !(options.l2 >= 0 && Number.isFinite(options.l2)))
    throw usageError(`l2 must be a number >= 0, got ${options.l2}`);

  const fold = stratifiedFolds(labels, classes, folds, seed);
  // Wide features train in kernel form (see fitKernel): n x n products instead of n x d.
  const kernel = 2 * x.cols > n ? Float64Array.from(toMatrix(x).mmulByTranspose().to1DArray()) : undefined;
  let total = 0;
  for (let k = 0; k < folds; k++) {
    const train: number[] = [];
    const test: number[] = [];
    fold.forEach((g, i) => (g === k ? test : train).push(i));
    const problem = { labels, classes, train, l2: options.l2 ?? 1 / train.length, epochs };
    const model = kernel ? fitKernel(kernel, x, problem) : fitPrimal(x, problem);
    total += test.filter((i) => predictRow(x, model, i) === labels[i]).length / test.length;
  }
  return { accuracy: total / folds, folds };
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
  const x = standardizeInPlace(dense(f, 'features'));
  classCounts(labels, x.rows, classes);
  const epochs = options.epochs ?? 100;
  if (!Number.isInteger(epochs) || epochs < 1) throw usageError(`epochs must be a positive integer, got ${epochs}`);
  if (options.l2 !== undefined && !(options.l2 >= 0 && Number.isFinite(options.l2)))
    throw usageError(`l2 must be a number >= 0, got ${options.l2}`);
  const problem = { labels, classes, train: Array.from({ length: x.rows }, (_, i) => i), l2: options.l2 ?? 1 / x.rows, epochs };
  const { w, b } =
    2 * x.cols > x.rows ? fitKernel(Float64Array.from(toMatrix(x).mmulByTranspose().to1DArray()), x, problem) : fitPrimal(x, problem);
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

/** Each class's samples, shuffled, dealt round-robin into the folds (continuing across classes, so fold sizes differ by at most one). */
interface Problem {
  labels: Int32Array;
  classes: number;
  train: number[];
  l2: number;
  epochs: number;
}

/**
 * Mean softmax cross-entropy of class-major logits (classes x m) for the training rows; writes
 * (P − Y)/m into `g`, the gradient with respect to the logits.
 */
function crossEntropy(logits: Float64Array, p: Problem, g: Float64Array): number {
  const m = p.train.length;
  let loss = 0;
  for (let i = 0; i < m; i++) {
    let max = -Infinity;
    for (let c = 0; c < p.classes; c++) max = Math.max(max, logits[c * m + i]);
    let sum = 0;
    for (let c = 0; c < p.classes; c++) sum += Math.exp(logits[c * m + i] - max);
    const y = p.labels[p.train[i]];
    loss += max + Math.log(sum) - logits[y * m + i];
    for (let c = 0; c < p.classes; c++) g[c * m + i] = (Math.exp(logits[c * m + i] - max) / sum - (c === y ? 1 : 0)) / m;
  }
  return loss / m;
}

/** Parameters [W (classes x d), b (classes)] with logits b + Wx: cheap when d is small next to n. */
function fitPrimal(x: Dense, p: Problem): LinearModel {
  const { data, cols: d } = x;
  const k = p.classes;
  const m = p.train.length;
  const logits = new Float64Array(k * m);
  const g = new Float64Array(k * m);
  const evaluate = (theta: Float64Array, grad: Float64Array) => {
    for (let c = 0; c < k; c++) {
      const w = theta.subarray(c * d, (c + 1) * d);
      p.train.forEach((row, i) => (logits[c * m + i] = theta[k * d + c] + dotArrays(w, data.subarray(row * d, (row + 1) * d))));
    }
    let loss = crossEntropy(logits, p, g);
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
  p.train.forEach((r, i) => p.train.forEach((s, j) => (kTrain[i * m + j] = kernel[r * n + s])));
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
  const evaluate = (theta: Float64Array, grad: Float64Array) => {
    for (let c = 0; c < k; c++) for (let i = 0; i < m; i++) logits[c * m + i] = theta[ka + c * m + i] + theta[k * m + c];
    let loss = crossEntropy(logits, p, g);
    loss += (p.l2 / 2) * dotArrays(theta.subarray(0, k * m), theta.subarray(ka));
    // ∇_W = X'(G + λA): A-part G + λA, KA-part KG + λKA, b-part Σ_i G.
    for (let c = 0; c < k; c++) {
      const gc = g.subarray(c * m, (c + 1) * m);
      let gb = 0;
      for (let i = 0; i < m; i++) {
        grad[c * m + i] = gc[i] + p.l2 * theta[c * m + i];
        grad[ka + c * m + i] = dotArrays(kTrain.subarray(i * m, (i + 1) * m), gc) + p.l2 * theta[ka + c * m + i];
        gb += gc[i];
      }
      grad[k * m + c] = gb;
    }
    return loss;
  };
  const theta = lbfgs(evaluate, { size, dot, maxSteps: p.epochs });
  // W = X'A, built once so that predicting costs d per class, not one kernel row.
  const d = x.cols;
  const w = new Float64Array(k * d);
  for (let c = 0; c < k; c++) {
    const wc = w.subarray(c * d, (c + 1) * d);
    p.train.forEach((row, i) => {
      const a = theta[c * m + i];
      for (let j = 0; j < d; j++) wc[j] += a * x.data[row * d + j];
    });
  }
  return { w, b: theta.subarray(k * m, k * m + k) };
}
