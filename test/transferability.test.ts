// Transferability scores against closed forms, hand-computed cases and direct d x d computations
// (ml-matrix inverse / pseudo-inverse / determinant), plus the properties a ranking relies on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { determinant, inverse, Matrix, pseudoInverse } from 'ml-matrix';
import { noiseFeatures as features, normals, randomLabels } from './helpers.js';
import { GraftError } from '../src/core/errors.js';
import { standardize, type FeatureMatrix } from '../src/evaluate/matrix.js';
import { fitLinearClassifier, linearProbe } from '../src/evaluate/probe.js';
import { hScore, leep, logme, logmeEvidence } from '../src/evaluate/scores.js';
import { kendallTau } from '../src/math/stats.js';

const asMatrix = (f: FeatureMatrix) => Matrix.from1DArray(f.rows, f.cols, Float64Array.from(f.data));
const oneHot = (labels: Int32Array, c: number) => Float64Array.from(labels, (y) => (y === c ? 1 : 0));

function close(actual: number, expected: number, tolerance: number, what = '') {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what} ${actual} != ${expected} (±${tolerance})`);
}

function throwsUsage(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (e: unknown) => e instanceof GraftError && e.exitCode === 2 && pattern.test(e.message));
}

/** log p(y | F, α, β) straight from Bayesian linear regression with d x d matrices, and ‖m‖², ‖Fm − y‖². */
function directEvidence(f: Matrix, y: Float64Array, alpha: number, beta: number) {
  const n = f.rows;
  const d = f.columns;
  const a = Matrix.eye(d).mul(alpha).add(f.transpose().mmul(f).mul(beta));
  const m = inverse(a).mmul(f.transpose()).mmul(Matrix.columnVector(y)).mul(beta);
  const residual = f.mmul(m).sub(Matrix.columnVector(y));
  const rss = residual.dot(residual);
  const mm = m.dot(m);
  const evidence =
    (n / 2) * Math.log(beta) +
    (d / 2) * Math.log(alpha) -
    (n / 2) * Math.log(2 * Math.PI) -
    (beta / 2) * rss -
    (alpha / 2) * mm -
    Math.log(determinant(a)) / 2;
  return { evidence, mm, rss };
}

describe('logme', () => {
  // Class c's columns (j % 3 = c) carry a 1 on its rows, plus noise. In the larger cases every
  // per-class maximum is interior; in the tiny ones some sit where ‖m‖² or ‖Fm − y‖² is ~0 and the
  // reference's 1e-5 guard sets α or β, so only the closed form is checked there.
  for (const { n, d, noise, interior, duplicate } of [
    { n: 12, d: 3, noise: 0.6, interior: false },
    { n: 6, d: 9, noise: 0.6, interior: false },
    { n: 40, d: 5, noise: 0.6, interior: true },
    { n: 30, d: 40, noise: 1, interior: true },
    { n: 40, d: 6, noise: 0.6, interior: true, duplicate: true },
  ]) {
    it(`returns the Bayesian evidence at its converged α, β${interior ? ', a maximum' : ''} (n=${n}, d=${d}${duplicate ? ", F'F singular" : ''})`, () => {
      const labels = randomLabels(n, 3, n);
      const gauss = normals(11);
      const f = {
        data: Float32Array.from({ length: n * d }, (_, i) => noise * gauss() + ((i % d) % 3 === labels[Math.floor(i / d)] ? 1 : 0)),
        rows: n,
        cols: d,
      };
      // The last column a multiple of the first.
      if (duplicate) for (let i = 0; i < n; i++) f.data[i * d + d - 1] = 0.5 * f.data[i * d];
      const fm = asMatrix(f);
      let sum = 0;
      for (let c = 0; c < 3; c++) {
        const y = oneHot(labels, c);
        const { evidence, alpha, beta } = logmeEvidence(f, y);
        const direct = directEvidence(fm, y, alpha, beta);
        close(evidence * n, direct.evidence, 1e-8 * Math.abs(direct.evidence), `class ${c} evidence`);
        if (interior) {
          assert.ok(direct.mm > 1e-2 && direct.rss > 1e-2, 'an interior case');
          // MacKay's fixed point maximises the evidence over α and β.
          for (const [da, db] of [
            [1.02, 1],
            [0.98, 1],
            [1, 1.02],
            [1, 0.98],
          ]) {
            const moved = directEvidence(fm, y, alpha * da, beta * db).evidence;
            assert.ok(moved < direct.evidence, `class ${c}: α x${da}, β x${db} raised the evidence`);
          }
        }
        sum += evidence;
      }
      close(logme(f, labels, 3), sum / 3, 1e-12, 'mean over classes');
    });
  }

  it('ranks informative features above random ones, wide and tall', () => {
    for (const [n, d] of [
      [200, 20],
      [80, 200],
    ]) {
      const labels = randomLabels(n, 3, 1);
      const informative = logme(features(labels, d, 2, 2), labels, 3);
      const random = logme(features(labels, d, 2, 0), labels, 3);
      assert.ok(informative > random + 0.1, `n=${n}, d=${d}: informative ${informative} vs random ${random}`);
    }
  });

  it('does not depend on the order of the samples', () => {
    const labels = randomLabels(60, 3, 5);
    const f = features(labels, 10, 6, 1);
    const order = Array.from({ length: 60 }, (_, i) => (i * 37) % 60);
    const permuted = { data: new Float32Array(f.data.length), rows: 60, cols: 10 };
    order.forEach((from, to) => permuted.data.set(f.data.subarray(from * 10, from * 10 + 10), to * 10));
    const score = logme(f, labels, 3);
    close(
      logme(
        permuted,
        Int32Array.from(order, (i) => labels[i]),
        3,
      ),
      score,
      1e-9 * Math.abs(score),
    );
  });

  it('accepts plain rows and leaves classes without samples out of the mean', () => {
    const rows = [
      [1, 0],
      [0.9, 0.2],
      [0, 1],
      [0.1, 0.8],
      [0.5, 0.4],
    ];
    const labels = Int32Array.of(0, 0, 2, 2, 0);
    const f = { data: Float32Array.from(rows.flat()), rows: 5, cols: 2 };
    const expected = (logmeEvidence(f, oneHot(labels, 0)).evidence + logmeEvidence(f, oneHot(labels, 2)).evidence) / 2;
    close(logme(rows, labels, 3), expected, 1e-7);
  });

  it('rejects mismatched rows, labels out of range and a single class', () => {
    const f = features(Int32Array.of(0, 1, 0, 1), 3, 1);
    throwsUsage(() => logme(f, Int32Array.of(0, 1, 0), 2), /3 labels for 4 feature rows/);
    throwsUsage(() => logme(f, Int32Array.of(0, 1, 0, 2), 2), /label 2 of row 3 is outside 0\.\.1/);
    throwsUsage(() => logme(f, Int32Array.of(1, 1, 1, 1), 2), /at least 2 classes/);
    throwsUsage(
      () => logme({ data: new Float32Array(5), rows: 2, cols: 3 }, Int32Array.of(0, 1), 2),
      /5 values do not make 2 rows x 3 columns/,
    );
    throwsUsage(() => logme([[1, 2], [3]], Int32Array.of(0, 1), 2), /row 1 has 1 values/);
    throwsUsage(() => logme([[1], [NaN]], Int32Array.of(0, 1), 2), /row 1, column 0 is not a finite number/);
  });
});

describe('leep', () => {
  it('matches a hand-computed 4-sample example (with a source class nobody predicts)', () => {
    // θ over z = 3 source classes, the third never predicted. Joint P(y, z): y=0 row (0.35, 0.15, 0),
    // y=1 row (0.15, 0.35, 0); P(z) = (0.5, 0.5, 0); P(y | z): P(0|0) = 0.7, P(0|1) = 0.3.
    // EEPs of the true labels: 0.8·0.7 + 0.2·0.3 = 0.62, 0.6·0.7 + 0.4·0.3 = 0.54, then 0.62, 0.54.
    const theta = [
      [0.8, 0.2, 0],
      [0.6, 0.4, 0],
      [0.2, 0.8, 0],
      [0.4, 0.6, 0],
    ];
    close(leep(theta, Int32Array.of(0, 0, 1, 1), 2), (Math.log(0.62) + Math.log(0.54)) / 2, 1e-12);
  });

  it('is 0 (log 1) for one-hot source predictions that map onto the target classes', () => {
    // Source classes 0 -> target 0, 1 and 2 -> target 1: P(y | z) is one-hot too.
    const z = [0, 1, 2, 0, 2, 1, 1];
    const theta = z.map((zi) => [0, 1, 2].map((j) => (j === zi ? 1 : 0)));
    close(
      leep(
        theta,
        Int32Array.from(z, (zi) => (zi === 0 ? 0 : 1)),
        2,
      ),
      0,
      1e-12,
    );
  });

  it('is minus the label entropy for uniform source probabilities', () => {
    // P(y | z) = n_y / n for every z, so each EEP is the class frequency.
    const uniform = Array.from({ length: 8 }, () => Array<number>(5).fill(0.2));
    close(leep(uniform, Int32Array.of(0, 1, 0, 1, 0, 1, 0, 1), 2), Math.log(1 / 2), 1e-12);
    close(leep(uniform, Int32Array.of(0, 0, 0, 0, 0, 0, 1, 2), 3), 0.75 * Math.log(0.75) + 2 * 0.125 * Math.log(0.125), 1e-12);
  });

  it('rejects rows that are not probability distributions', () => {
    throwsUsage(
      () =>
        leep(
          [
            [2, -1],
            [0.5, 0.5],
          ],
          Int32Array.of(0, 1),
          2,
        ),
      /row 0 has a negative value/,
    );
    throwsUsage(
      () =>
        leep(
          [
            [0.5, 0.5],
            [3, 1],
          ],
          Int32Array.of(0, 1),
          2,
        ),
      /row 1 sums to 4/,
    );
  });
});

describe('hScore', () => {
  it('matches a hand-computed 2-D example', () => {
    // Mean 0; cov = 1/6 [[10, 8], [8, 10]], inverse 1/6 [[10, -8], [-8, 10]]; class means ±(1, 1),
    // so cov(E[f|y]) = [[1, 1], [1, 1]] and the trace is (1, 1) cov⁻¹ (1, 1)' = (10 - 16 + 10)/6 = 2/3.
    const f = [
      [1, 0],
      [0, 1],
      [2, 2],
      [-1, 0],
      [0, -1],
      [-2, -2],
    ];
    close(hScore(f, Int32Array.of(0, 0, 0, 1, 1, 1), 2), 2 / 3, 1e-12);
  });

  it('matches tr(pinv(cov) cov(E[f|y])) computed directly when the covariance is singular', () => {
    const labels = randomLabels(40, 3, 8);
    const base = features(labels, 5, 9, 0.7);
    // A sixth column duplicating the first makes cov(f) singular.
    const f = { data: new Float32Array(40 * 6), rows: 40, cols: 6 };
    for (let i = 0; i < 40; i++) {
      f.data.set(base.data.subarray(i * 5, i * 5 + 5), i * 6);
      f.data[i * 6 + 5] = base.data[i * 5];
    }
    const x = asMatrix(f);
    const centred = x.clone().subRowVector(x.mean('column'));
    const cov = centred.transpose().mmul(centred).div(40);
    const means = new Matrix(40, 6);
    for (let c = 0; c < 3; c++) {
      const rows = labels.reduce<number[]>((a, y, i) => (y === c ? [...a, i] : a), []);
      const mean = centred.selection(rows, [0, 1, 2, 3, 4, 5]).mean('column');
      for (const i of rows) means.setRow(i, mean);
    }
    const between = means.transpose().mmul(means).div(40);
    const expected = pseudoInverse(cov, 1e-10).mmul(between).trace();
    close(hScore(f, labels, 3), expected, 1e-8 * expected);
  });

  it('is near 0 for features independent of the labels, higher for separable ones', () => {
    const labels = randomLabels(2000, 2, 3);
    const independent = hScore(features(labels, 4, 4, 0), labels, 2);
    assert.ok(independent >= 0 && independent < 0.02, `independent ${independent}`);
    assert.ok(hScore(features(labels, 4, 4, 2), labels, 2) > 0.5);
  });

  it('is k - 1 whatever the features when d >= n - 1; the Ledoit-Wolf variant still ranks', () => {
    const labels = randomLabels(40, 3, 12);
    const random = features(labels, 60, 13, 0);
    const informative = features(labels, 60, 13, 1.5);
    close(hScore(random, labels, 3), 2, 1e-8);
    close(hScore(informative, labels, 3), 2, 1e-8);
    assert.ok(hScore(informative, labels, 3, { shrinkage: 'ledoit-wolf' }) > 2 * hScore(random, labels, 3, { shrinkage: 'ledoit-wolf' }));
  });

  it('regularised: matches cov_a from the Ledoit-Wolf formula computed with d x d matrices', () => {
    const labels = randomLabels(30, 2, 14);
    const f = features(labels, 8, 15, 0.8);
    const n = 30;
    const d = 8;
    const x = asMatrix(f);
    const centred = x.clone().subRowVector(x.mean('column'));
    const s = centred.transpose().mmul(centred).div(n);
    const mu = s.trace() / d;
    // Ledoit & Wolf (2004), Lemma 3.2-3.4 with ‖A‖² = tr(AA')/d: b² = 1/n² Σ‖x_i x_i' − S‖², d² = ‖S − μI‖².
    let b2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = Matrix.columnVector(centred.getRow(i));
      const diff = xi.mmul(xi.transpose()).sub(s);
      b2 += diff.dot(diff) / d / (n * n);
    }
    const spread = s.clone().sub(Matrix.eye(d).mul(mu));
    const d2 = spread.dot(spread) / d;
    const a = Math.min(b2, d2) / d2;
    const means = new Matrix(n, d);
    labels.forEach((y, i) => {
      const rows = labels.reduce<number[]>((acc, z, j) => (z === y ? [...acc, j] : acc), []);
      means.setRow(i, centred.selection(rows, [...Array(d).keys()]).mean('column'));
    });
    const between = means.transpose().mmul(means).div(n);
    const shrunk = s
      .clone()
      .mul(1 - a)
      .add(Matrix.eye(d).mul(a * mu));
    const expected = inverse(shrunk)
      .mmul(between.mul(1 - a))
      .trace();
    close(hScore(f, labels, 2, { shrinkage: 'ledoit-wolf' }), expected, 1e-8 * expected);
    // A fixed shrinkage of 0 is the plain score.
    close(hScore(f, labels, 2, { shrinkage: 0 }), hScore(f, labels, 2), 1e-12);
    throwsUsage(() => hScore(f, labels, 2, { shrinkage: 1.5 }), /shrinkage must be/);
  });
});

describe('linearProbe', () => {
  it('reaches >= 0.95 on separable data, tall and wide', () => {
    for (const [n, d] of [
      [150, 20],
      [120, 400],
    ]) {
      const labels = randomLabels(n, 3, 21);
      // 30 shifted columns: with 3, 397 noise columns outweigh them (0.77, as SciPy's L-BFGS also gets).
      const { accuracy, folds } = linearProbe(features(labels, d, 22, 2.5, 30), labels, 3);
      assert.equal(folds, 5);
      assert.ok(accuracy >= 0.95, `n=${n}, d=${d}: ${accuracy}`);
    }
  });

  it('stays near chance for random labels, tall and wide', () => {
    for (const [n, d] of [
      [300, 30],
      [200, 500],
    ]) {
      const labels = randomLabels(n, 2, 23);
      const { accuracy } = linearProbe(features(labels, d, 24, 0), labels, 2);
      assert.ok(Math.abs(accuracy - 0.5) < 0.15, `n=${n}, d=${d}: ${accuracy}`);
    }
  });

  it('is deterministic for a seed', () => {
    const labels = randomLabels(90, 3, 25);
    const f = features(labels, 12, 26, 0.6);
    const a = linearProbe(f, labels, 3, { seed: 7, folds: 3 });
    assert.deepEqual(linearProbe(f, labels, 3, { seed: 7, folds: 3 }), a);
    assert.equal(a.folds, 3);
  });

  it('trains the same model in kernel form: zero columns that switch to it change nothing', () => {
    const labels = randomLabels(60, 2, 27);
    const f = features(labels, 10, 28, 0.7);
    // 10 columns: primal; padded to 40 (> n/2): kernel. Standardising leaves the padding at 0.
    const padded = { data: new Float32Array(60 * 40), rows: 60, cols: 40 };
    for (let i = 0; i < 60; i++) padded.data.set(f.data.subarray(i * 10, i * 10 + 10), i * 40);
    const options = { l2: 0.05, epochs: 300 };
    const primal = linearProbe(f, labels, 2, options).accuracy;
    assert.ok(primal > 0.6 && primal < 1, `a case with some errors: ${primal}`);
    close(linearProbe(padded, labels, 2, options).accuracy, primal, 1e-12);
  });

  it('rejects impossible options', () => {
    const labels = randomLabels(10, 2, 1);
    const f = features(labels, 3, 1);
    throwsUsage(() => linearProbe(f, labels, 2, { folds: 11 }), /folds must be an integer from 2 to 10/);
    throwsUsage(() => linearProbe(f, labels, 2, { epochs: 0 }), /epochs must be a positive integer/);
    throwsUsage(() => linearProbe(f, labels, 2, { l2: -1 }), /l2 must be a number >= 0/);
  });
});

describe('kendallTau', () => {
  it('is 1 for the same order, -1 for the reverse, tau-b with ties', () => {
    close(kendallTau([1, 2, 3, 4], [10, 20, 25, 40]), 1, 1e-15);
    close(kendallTau([1, 2, 3, 4], [4, 3, 2, 1]), -1, 1e-15);
    // Pairs of [1, 2, 2, 3] vs [1, 3, 2, 2]: 3 concordant, 1 discordant, 1 tied in a, 1 tied in b:
    // (3 - 1) / √((6 - 1)(6 - 1)) = 0.4.
    close(kendallTau([1, 2, 2, 3], [1, 3, 2, 2]), 0.4, 1e-15);
    assert.ok(Number.isNaN(kendallTau([1, 1, 1], [1, 2, 3])));
    throwsUsage(() => kendallTau([1, 2], [1]), /same length/);
  });
});

describe('standardize', () => {
  it('gives columns of mean 0 and variance 1, constant columns 0', () => {
    const labels = randomLabels(50, 2, 30);
    const f = features(labels, 4, 31, 3);
    for (let i = 0; i < 50; i++) f.data[i * 4 + 3] = 7.25;
    const s = standardize(f);
    for (let j = 0; j < 4; j++) {
      const column = Array.from({ length: 50 }, (_, i) => s.data[i * 4 + j]);
      const mean = column.reduce((a, b) => a + b, 0) / 50;
      const variance = column.reduce((a, b) => a + (b - mean) ** 2, 0) / 50;
      close(mean, 0, 1e-6, `column ${j} mean`);
      close(variance, j === 3 ? 0 : 1, 1e-5, `column ${j} variance`);
    }
    assert.deepEqual(
      Array.from(
        standardize([
          [1, 5],
          [3, 5],
        ]).data,
      ),
      [-1, 0, 1, 0],
    );
  });
});

describe('fitLinearClassifier', () => {
  /** Raw-space logits x·kernel + bias. */
  const logitsOf = (f: FeatureMatrix, m: { kernel: Float32Array; bias: Float32Array }, k: number) =>
    Float64Array.from({ length: f.rows * k }, (_, t) => {
      const [i, c] = [Math.floor(t / k), t % k];
      let s = m.bias[c];
      for (let j = 0; j < f.cols; j++) s += f.data[i * f.cols + j] * m.kernel[j * k + c];
      return s;
    });

  it('solves the regularised problem: its gradient on the standardised features is zero', () => {
    for (const [n, d] of [
      [120, 6],
      [40, 60],
    ]) {
      const k = 3;
      const labels = randomLabels(n, k, 31);
      const f = features(labels, d, 32, 0.8);
      // Shift and scale the columns: the fitted model must undo both.
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) f.data[i * d + j] = f.data[i * d + j] * (1 + j) + 5 * j;
      const l2 = 0.05;
      const m = fitLinearClassifier(f, labels, k, { l2, epochs: 2000 });
      const z = standardize(f);
      const scale = Array.from({ length: d }, (_, j) => {
        let mean = 0;
        for (let i = 0; i < n; i++) mean += f.data[i * d + j] / n;
        let v = 0;
        for (let i = 0; i < n; i++) v += (f.data[i * d + j] - mean) ** 2 / n;
        return 1 / Math.sqrt(v);
      });
      const logits = logitsOf(f, m, k);
      const gradW = new Float64Array(d * k);
      const gradB = new Float64Array(k);
      for (let i = 0; i < n; i++) {
        const row = logits.subarray(i * k, (i + 1) * k);
        const max = Math.max(...row);
        const sum = row.reduce((a, v) => a + Math.exp(v - max), 0);
        for (let c = 0; c < k; c++) {
          const g = (Math.exp(row[c] - max) / sum - (labels[i] === c ? 1 : 0)) / n;
          gradB[c] += g;
          for (let j = 0; j < d; j++) gradW[j * k + c] += g * z.data[i * d + j];
        }
      }
      // The weights on standardised features are the raw kernel divided by each column's scale.
      for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) gradW[j * k + c] += (l2 * m.kernel[j * k + c]) / scale[j];
      const worst = Math.max(...gradW.map(Math.abs), ...gradB.map(Math.abs));
      assert.ok(worst < 1e-4, `n=${n}, d=${d}: largest gradient ${worst}`);
    }
  });

  it('fits the model the probe scores: training accuracy high on separable data, constant columns weightless', () => {
    const labels = randomLabels(90, 3, 33);
    const f = features(labels, 8, 34, 2.5);
    for (let i = 0; i < 90; i++) f.data[i * 8 + 7] = 4; // a constant column
    const m = fitLinearClassifier(f, labels, 3);
    const logits = logitsOf(f, m, 3);
    const correct = labels.filter((y, i) => [0, 1, 2].reduce((b, c) => (logits[i * 3 + c] > logits[i * 3 + b] ? c : b), 0) === y).length;
    assert.ok(correct / 90 >= 0.95, `${correct}/90`);
    assert.deepEqual(Array.from(m.kernel.subarray(7 * 3, 8 * 3)), [0, 0, 0]);
    throwsUsage(() => fitLinearClassifier(f, labels, 3, { l2: -1 }), /l2 must be a number >= 0/);
  });
});
