// Transferability scores: how well a frozen trunk's features suit a target task without any
// fine-tuning, so bases can be ranked before the expensive part. Each takes pooled features
// (n samples x d columns) and target class indices; decompositions and products are ml-matrix's.
import { EVD, Matrix } from 'ml-matrix';
import { mulberry32, shuffle } from '../data/random.js';
import { usageError } from '../errors.js';

/** Features: n rows (samples) x d columns, row-major. */
export interface FeatureMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** What the scores accept as features: graft's row-major matrix, or plain rows. */
export type Features = FeatureMatrix | number[][];

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

export interface HScoreOptions {
  /**
   * 0 (default): Bao et al.'s H-score with a pseudo-inverse. 'ledoit-wolf', or a fixed value in
   * [0, 1]: the regularised H-score of Ibrahim et al. (2022), which shrinks the covariance
   * towards a scaled identity. Needed when d >= n - 1: there the plain score is k - 1 whatever
   * the features (the pseudo-inverse whitens every direction the samples span).
   */
  shrinkage?: number | 'ledoit-wolf';
}

/** LogME's maximum evidence for one real-valued target, per sample, at the fitted prior/noise precisions. */
export interface Evidence {
  evidence: number;
  alpha: number;
  beta: number;
}

interface Dense {
  data: Float64Array;
  rows: number;
  cols: number;
}

/** Scores work in float64: float32 sums over 1280 columns lose the digits the decompositions need. */
function dense(f: Features, what: string): Dense {
  let x: Dense;
  if (Array.isArray(f)) {
    const rows = f.length;
    const cols = rows ? f[0].length : 0;
    const data = new Float64Array(rows * cols);
    f.forEach((row, i) => {
      if (row.length !== cols) throw usageError(`${what}: row ${i} has ${row.length} values, row 0 has ${cols}`);
      data.set(row, i * cols);
    });
    x = { data, rows, cols };
  } else {
    const { rows, cols } = f;
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || f.data.length !== rows * cols) {
      throw usageError(`${what}: ${f.data.length} values do not make ${rows} rows x ${cols} columns`);
    }
    x = { data: Float64Array.from(f.data), rows, cols };
  }
  if (x.rows < 1 || x.cols < 1) throw usageError(`${what}: need at least one row and one column, got ${x.rows} x ${x.cols}`);
  const bad = x.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw usageError(`${what}: the value at row ${Math.floor(bad / x.cols)}, column ${bad % x.cols} is not a finite number`);
  return x;
}

/** Validates labels against the features and returns the count of each class. */
function classCounts(labels: Int32Array, rows: number, classes: number): number[] {
  if (!Number.isInteger(classes) || classes < 2) throw usageError(`classes must be an integer >= 2, got ${classes}`);
  if (labels.length !== rows) throw usageError(`${labels.length} labels for ${rows} feature rows`);
  const counts = new Array<number>(classes).fill(0);
  labels.forEach((y, i) => {
    if (!(y >= 0 && y < classes)) throw usageError(`label ${y} of row ${i} is outside 0..${classes - 1}`);
    counts[y]++;
  });
  if (counts.filter((c) => c > 0).length < 2) throw usageError('the labels must cover at least 2 classes');
  return counts;
}

const toMatrix = (x: Dense) => Matrix.from1DArray(x.rows, x.cols, x.data);

function centerColumns(x: Dense): Dense {
  const { data, rows, cols } = x;
  for (let j = 0; j < cols; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += data[i * cols + j];
    mean /= rows;
    for (let i = 0; i < rows; i++) data[i * cols + j] -= mean;
  }
  return x;
}

/** Per column: subtract `mean`, multiply by `scale` (0 for a constant column). */
interface Standardization {
  mean: Float64Array;
  scale: Float64Array;
}

function standardizeInPlace(x: Dense): Dense & Standardization {
  const { data, rows, cols } = x;
  const means = new Float64Array(cols);
  const scales = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let mean = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < rows; i++) {
      const v = data[i * cols + j];
      mean += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    mean /= rows;
    let variance = 0;
    for (let i = 0; i < rows; i++) variance += (data[i * cols + j] - mean) ** 2;
    // Compared exactly: a constant column's variance is rounding noise, and dividing by it would invent signal.
    const scale = min === max ? 0 : 1 / Math.sqrt(variance / rows);
    for (let i = 0; i < rows; i++) data[i * cols + j] = (data[i * cols + j] - mean) * scale;
    [means[j], scales[j]] = [mean, scale];
  }
  return { ...x, mean: means, scale: scales };
}

/** Standardise columns (zero mean, unit population variance; constant columns left at 0): used before the linear probe, whose optimiser wants comparable scales. */
export function standardize(f: Features): FeatureMatrix {
  const x = standardizeInPlace(dense(f, 'features'));
  return { data: Float32Array.from(x.data), rows: x.rows, cols: x.cols };
}

interface Spectrum {
  /** Orthonormal columns spanning F's column space (n values each). */
  u: Float64Array[];
  /** The matching eigenvalues of F'F (squared singular values), all > 0. */
  sigma: number[];
}

/**
 * The non-null part of F = U diag(√σ) V'. It eigen-decomposes the smaller of FF' and F'F:
 * ml-matrix's SVD of a 400 x 1280 matrix takes seconds, its symmetric EVD of 400 x 400 half a
 * second. Eigenvalues below max(n, d)·ε of the largest are rounding noise of the Gram product
 * (float32 features cannot resolve them anyway) and count as zero.
 */
function spectrum(x: Matrix): Spectrum {
  const n = x.rows;
  const wide = x.columns > n;
  const evd = new EVD(wide ? x.mmulByTranspose() : x.gram(), { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const floor = Math.max(0, ...values) * Math.max(n, x.columns) * Number.EPSILON;
  const keep = values.flatMap((v, i) => (v > floor ? [i] : []));
  if (!keep.length) return { u: [], sigma: [] };
  const sigma = keep.map((i) => values[i]);
  const vectors = evd.eigenvectorMatrix.subMatrixColumn(keep);
  // Tall F: U = F V diag(1/√σ); wide F: the eigenvectors of FF' already are U.
  const basis = wide ? vectors : x.mmul(vectors);
  const u = sigma.map((s, j) => {
    const column = Float64Array.from(basis.getColumn(j));
    if (!wide) for (let i = 0; i < n; i++) column[i] /= Math.sqrt(s);
    return column;
  });
  return { u, sigma };
}

const dotArrays = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

// LogME: You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models for Transfer
// Learning", ICML 2021, Algorithm 1; behaviour as the authors' reference (github.com/thuml/LogME,
// LogME.py): one-hot target per class, evidence / n, mean over classes. Bayesian linear regression
// y = Fw + noise, w ~ N(0, I/α), noise ~ N(0, 1/β); with t = α/β, x = U'y and F'F's eigenvalues σ:
//   m = β A⁻¹ F'y (A = αI + βF'F),  m'm = Σ σ x² / (σ + t)²,  ‖Fm − y‖² = Σ (t x / (σ + t))² + ‖y − UU'y‖²,
//   γ = Σ σ / (σ + t),  α ← γ / m'm,  β ← (n − γ) / ‖Fm − y‖²   (MacKay's fixed point),
//   log p(y | F, α, β) = n/2 log β + d/2 log α − n/2 log 2π − β/2 ‖Fm − y‖² − α/2 m'm − 1/2 log|A|,
// where log|A| = Σ log(α + βσ) + (d − r) log α, so the d − r null directions cancel out of the evidence.
// The iteration in F's SVD coordinates is the authors' later form (You et al., "Ranking and Tuning
// Pre-trained Models", JMLR 2022): the same updates at O(r) per step.

/** Guards 0/0 when the target is fitted exactly or is orthogonal to F (as the reference does). */
const LOGME_EPSILON = 1e-5;
/**
 * The reference stops after 11 steps or a 1e-2 relative change in α/β, short of the maximum when
 * features are wide and uninformative (hundreds of steps there); steps cost O(r), so converge.
 */
const LOGME_TOLERANCE = 1e-10;
const LOGME_MAX_STEPS = 1000;

function maximumEvidence(s: Spectrum, y: Float64Array): Evidence {
  const n = y.length;
  const r = s.sigma.length;
  const x = s.u.map((u) => dotArrays(u, y));
  const outside = Math.max(0, dotArrays(y, y) - dotArrays(x, x));
  const fit = (t: number) => {
    let gamma = 0;
    let mm = 0;
    let residual = outside;
    s.sigma.forEach((sigma, i) => {
      gamma += sigma / (sigma + t);
      mm += (sigma * x[i] ** 2) / (sigma + t) ** 2;
      residual += ((t * x[i]) / (sigma + t)) ** 2;
    });
    return { gamma, mm, residual };
  };
  let alpha = 1;
  let beta = 1;
  for (let step = 0; step < LOGME_MAX_STEPS; step++) {
    const t = alpha / beta;
    const { gamma, mm, residual } = fit(t);
    alpha = gamma / (mm + LOGME_EPSILON);
    beta = (n - gamma) / (residual + LOGME_EPSILON);
    if (Math.abs(alpha / beta - t) <= LOGME_TOLERANCE * t) break;
  }
  // The evidence at the final α, β with the m they give (not the previous step's m).
  const { mm, residual } = fit(alpha / beta);
  let logDet = 0;
  for (const sigma of s.sigma) logDet += Math.log(alpha + beta * sigma);
  const evidence =
    (r ? (r / 2) * Math.log(alpha) : 0) +
    (n / 2) * Math.log(beta) -
    logDet / 2 -
    (beta / 2) * residual -
    (alpha / 2) * mm -
    (n / 2) * Math.log(2 * Math.PI);
  return { evidence: evidence / n, alpha, beta };
}

/** LogME for one real-valued target (one column of y): the per-class building block, and regression's score. */
export function logmeEvidence(f: Features, target: ArrayLike<number>): Evidence {
  const x = dense(f, 'features');
  if (target.length !== x.rows) throw usageError(`${target.length} target values for ${x.rows} feature rows`);
  const y = Float64Array.from(target);
  if (y.some((v) => !Number.isFinite(v))) throw usageError('target values must be finite numbers');
  return maximumEvidence(spectrum(toMatrix(x)), y);
}

/**
 * LogME (You et al. 2021): the mean over classes of the maximum log evidence per sample of a
 * Bayesian linear model from the features to the class's one-hot column. Higher is better; no
 * centring or scaling is done here (graft scores pooled features as they are: standardising flattens the spectrum the evidence reads).
 * Classes without samples are left out of the mean: their all-zero target only measures the 0/0 guard.
 */
export function logme(f: Features, labels: Int32Array, classes: number): number {
  const x = dense(f, 'features');
  const counts = classCounts(labels, x.rows, classes);
  const s = spectrum(toMatrix(x));
  let sum = 0;
  let present = 0;
  for (let c = 0; c < classes; c++) {
    if (!counts[c]) continue;
    sum += maximumEvidence(
      s,
      Float64Array.from(labels, (y) => (y === c ? 1 : 0)),
    ).evidence;
    present++;
  }
  return sum / present;
}

/** Source classifier probabilities must be distributions; logits passed by mistake would give nonsense. */
const PROBABILITY_SLACK = 1e-3;

/**
 * LEEP (Nguyen, Hassner, Seeger, Archambeau, "LEEP: A New Measure to Evaluate Transferability of
 * Learned Representations", ICML 2020, eqs. 1-3): with θ(x) the base's own classifier output over
 * its z source classes, the empirical joint P(y, z) = 1/n Σ_{i: y_i = y} θ(x_i)_z, the conditional
 * P(y | z) = P(y, z) / P(z), and LEEP = 1/n Σ_i log Σ_z P(y_i | z) θ(x_i)_z. At most 0 (log 1).
 */
export function leep(sourceProbs: Features, labels: Int32Array, classes: number): number {
  const p = dense(sourceProbs, 'source probabilities');
  classCounts(labels, p.rows, classes);
  const n = p.rows;
  for (let i = 0; i < n; i++) {
    const row = p.data.subarray(i * p.cols, (i + 1) * p.cols);
    if (row.some((v) => v < 0)) throw usageError(`source probabilities: row ${i} has a negative value (pass softmax outputs, not logits)`);
    const sum = row.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > PROBABILITY_SLACK)
      throw usageError(`source probabilities: row ${i} sums to ${sum}, not 1 (pass softmax outputs, not logits)`);
  }
  const theta = toMatrix(p);
  const onehot = Matrix.zeros(n, classes);
  labels.forEach((y, i) => onehot.set(i, y, 1));
  const joint = onehot.transposeMultiply(theta).div(n); // classes x z
  const conditional = joint.clone();
  for (let z = 0; z < joint.columns; z++) {
    const marginal = joint.getColumn(z).reduce((a, b) => a + b, 0);
    // A source class no sample gives any mass contributes nothing either way.
    for (let y = 0; y < classes; y++) conditional.set(y, z, marginal > 0 ? joint.get(y, z) / marginal : 0);
  }
  const expected = theta.mmul(conditional.transpose()); // n x classes: the EEP of each target class
  let sum = 0;
  labels.forEach((y, i) => (sum += Math.log(expected.get(i, y))));
  return sum / n;
}

/**
 * H-score (Bao, Li, Huang, Liang, Zheng, Zhong, "An Information-Theoretic Approach to
 * Transferability in Task Transfer Learning", ICIP 2019): tr(cov(f)⁺ cov(E[f | y])), both
 * covariances over the n samples (1/n). With `shrinkage` it is the regularised H-score of
 * Ibrahim, Ponomareva, Mazumder, "Newer is not always better: Rethinking transferability metrics,
 * their peculiarities, stability and performance", ECML-PKDD 2022:
 * tr(cov_a(f)⁻¹ (1 − a) cov(E[f | y])) with cov_a = (1 − a) cov + a·(tr cov / d)·I, a from
 * Ledoit & Wolf (2004) as scikit-learn's ledoit_wolf_shrinkage computes it, or given.
 */
export function hScore(f: Features, labels: Int32Array, classes: number, options: HScoreOptions = {}): number {
  const x = centerColumns(dense(f, 'features'));
  const counts = classCounts(labels, x.rows, classes);
  const shrinkage = options.shrinkage ?? 0;
  if (shrinkage !== 'ledoit-wolf' && !(typeof shrinkage === 'number' && shrinkage >= 0 && shrinkage <= 1)) {
    throw usageError(`shrinkage must be 'ledoit-wolf' or a number from 0 to 1, got ${String(shrinkage)}`);
  }
  const { rows: n, cols: d } = x;
  const { u, sigma } = spectrum(toMatrix(x));
  // cov = V diag(σ/n) V'. The between-class covariance is Σ_c m_c m_c' with
  // m_c = √(n_c/n)(μ_c − μ) = F' a_c, a_c = 1/√(n n_c) on class c's rows, so
  // m_c' cov_a⁻¹ m_c = Σ_i σ_i (u_i'a_c)² / ((1 − a)σ_i/n + a μ): only U and σ are needed, and the
  // pseudo-inverse is the a = 0 case restricted to the directions the samples span.
  // a_c is centred: F'1 = 0 already, and the constant direction (null for centred F) stays out.
  const a = shrinkage === 'ledoit-wolf' ? ledoitWolf(x, sigma) : shrinkage;
  const mu = sigma.reduce((s, v) => s + v, 0) / (n * d);
  let score = 0;
  for (let c = 0; c < classes; c++) {
    if (!counts[c]) continue;
    const inClass = 1 / Math.sqrt(n * counts[c]);
    const mean = (counts[c] * inClass) / n;
    const ac = Float64Array.from(labels, (y) => (y === c ? inClass : 0) - mean);
    u.forEach((ui, i) => {
      const denominator = ((1 - a) * sigma[i]) / n + a * mu;
      if (denominator > 0) score += ((1 - a) * sigma[i] * dotArrays(ui, ac) ** 2) / denominator;
    });
  }
  return score;
}

/**
 * Ledoit-Wolf shrinkage towards μI for centred rows X with Gram eigenvalues σ, in scikit-learn's
 * form: b = (Σ_i ‖x_i‖⁴/n − ‖S‖²_F)/(n d), δ = ‖S − μI‖²_F / d, a = min(b, δ)/δ, S = X'X/n.
 * ‖S‖²_F = Σ σ²/n², so no d x d matrix is ever formed.
 */
function ledoitWolf(x: Dense, sigma: number[]): number {
  const { data, rows: n, cols: d } = x;
  let trace = 0;
  let fourth = 0;
  for (let i = 0; i < n; i++) {
    const norm = dotArrays(data.subarray(i * d, (i + 1) * d), data.subarray(i * d, (i + 1) * d));
    trace += norm / n;
    fourth += norm * norm;
  }
  const mu = trace / d;
  const frobenius = sigma.reduce((s, v) => s + v * v, 0) / (n * n);
  const delta = (frobenius - 2 * mu * trace + d * mu * mu) / d;
  const b = Math.min((fourth / n - frobenius) / (n * d), delta);
  return delta > 0 && b > 0 ? b / delta : 0;
}

/**
 * Kendall's tau-b between two score lists (ties handled): (concordant − discordant) /
 * √((pairs − ties in a)(pairs − ties in b)). NaN when either list is constant, as in SciPy.
 */
export function kendallTau(a: number[], b: number[]): number {
  if (a.length !== b.length) throw usageError(`kendallTau needs lists of the same length, got ${a.length} and ${b.length}`);
  if (a.length < 2) throw usageError('kendallTau needs at least 2 pairs');
  if ([...a, ...b].some((v) => !Number.isFinite(v))) throw usageError('kendallTau needs finite numbers');
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  let pairs = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const s = Math.sign(a[i] - a[j]) * Math.sign(b[i] - b[j]);
      pairs++;
      if (a[i] === a[j]) tiesA++;
      if (b[i] === b[j]) tiesB++;
      if (s > 0) concordant++;
      else if (s < 0) discordant++;
    }
  }
  return (concordant - discordant) / Math.sqrt((pairs - tiesA) * (pairs - tiesB));
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
export function stratifiedFolds(labels: Int32Array, classes: number, folds: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const members: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((y, i) => members[y].push(i));
  const fold = new Int32Array(labels.length);
  let next = 0;
  for (const group of members) for (const i of shuffle(group, rand)) fold[i] = next++ % folds;
  return fold;
}

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
  const theta = lbfgs(evaluate, k * d + k, dotArrays, p.epochs);
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
  const theta = lbfgs(evaluate, size, dot, p.epochs);
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

const LBFGS_MEMORY = 10;

/**
 * Limited-memory BFGS from 0 with Armijo backtracking, for smooth convex objectives; `dot` is the
 * inner product of the parameter space. Stops at `maxSteps`, a flat objective, or a tiny gradient.
 */
function lbfgs(
  evaluate: (x: Float64Array, grad: Float64Array) => number,
  size: number,
  dot: (u: Float64Array, v: Float64Array) => number,
  maxSteps: number,
): Float64Array {
  let x = new Float64Array(size);
  let g = new Float64Array(size);
  let fx = evaluate(x, g);
  const history: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  for (let step = 0; step < maxSteps; step++) {
    const gNorm = Math.sqrt(dot(g, g));
    if (gNorm < 1e-9) break;
    // Two-loop recursion: q = H g, H the inverse-Hessian estimate.
    const q = Float64Array.from(g);
    const coefficients: number[] = [];
    for (let j = history.length - 1; j >= 0; j--) {
      const h = history[j];
      coefficients[j] = h.rho * dot(h.s, q);
      axpy(q, -coefficients[j], h.y);
    }
    const last = history[history.length - 1];
    const scale = last ? dot(last.s, last.y) / dot(last.y, last.y) : 1 / gNorm;
    for (let i = 0; i < size; i++) q[i] *= scale;
    history.forEach((h, j) => axpy(q, coefficients[j] - h.rho * dot(h.y, q), h.s));
    let slope = -dot(g, q);
    if (!(slope < 0)) {
      // Not a descent direction (rounding): restart from steepest descent.
      history.length = 0;
      q.set(g);
      for (let i = 0; i < size; i++) q[i] /= gNorm;
      slope = -gNorm;
    }
    const next = new Float64Array(size);
    const gNext = new Float64Array(size);
    let t = 1;
    let fNext = Infinity;
    for (;;) {
      for (let i = 0; i < size; i++) next[i] = x[i] - t * q[i];
      fNext = evaluate(next, gNext);
      if (fNext <= fx + 1e-4 * t * slope) break;
      t /= 2;
      if (t < 1e-12) return x;
    }
    const s = next.map((v, i) => v - x[i]);
    const y = gNext.map((v, i) => v - g[i]);
    const sy = dot(s, y);
    if (sy > 1e-12 * dot(y, y)) {
      history.push({ s, y, rho: 1 / sy });
      if (history.length > LBFGS_MEMORY) history.shift();
    }
    const flat = fx - fNext <= 1e-10 * Math.max(1, Math.abs(fx));
    [x, g, fx] = [next, gNext, fNext];
    if (flat) break;
  }
  return x;
}

function axpy(target: Float64Array, a: number, v: Float64Array): void {
  for (let i = 0; i < target.length; i++) target[i] += a * v[i];
}
