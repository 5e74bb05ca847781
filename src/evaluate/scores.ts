// Transferability scores: how well a frozen trunk's features suit a target task without any
// fine-tuning, so bases can be ranked before the expensive part. Each takes pooled features
// (n samples x d columns) and target class indices; decompositions and products are ml-matrix's.
import { EVD, Matrix } from 'ml-matrix';
import { usageError } from '../core/errors.js';
import { centerColumns, classCounts, dense, dotArrays, toMatrix, type Dense, type Features } from './matrix.js';

export interface HScoreOptions {
  /**
   * 0 (default): Bao et al.'s H-score with a pseudo-inverse. 'ledoit-wolf', or a fixed value
   * from 0 to 1: the regularised H-score of Ibrahim et al. (2022), which shrinks the covariance
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
