// The linear probe's solver gives the same bits as before it was made faster (issue 29): a
// linear head's start, its L2 and cross-validated accuracy enter published experiment numbers,
// so its solutions are pinned here as hashes of what the code gave before (commit 657718d),
// and the shortcuts (one Gram matrix for every fit, ml-matrix's product computed in place) are
// checked against what they replace.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { standardizeInPlace } from '../src/evaluate/matrix.js';
import { fitLinearClassifier, gram, linearProbe, probeProblem } from '../src/evaluate/probe.js';
import { lbfgs } from '../src/math/lbfgs.js';
import { noiseFeatures as features, randomLabels } from './helpers.js';
import { initHeadByProbe, PROBE_L2_GRID } from '../src/train/probe-head.js';

const sha = (...arrays: ArrayBufferView[]) => {
  const h = createHash('sha256');
  for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex').slice(0, 16);
};

// 117 rows x 300 columns, 4 classes: kernel form, folds of 93-94 training rows (not a multiple of 4).
const wideLabels = randomLabels(117, 4, 31);
const wide = features(wideLabels, 300, 32, 0.8, 10);

describe('the probe solver, pinned to its solutions before it was made faster', () => {
  it('linearProbe and fitLinearClassifier in kernel form', () => {
    assert.deepEqual(
      PROBE_L2_GRID.map((l2) => linearProbe(wide, wideLabels, 4, { l2, seed: 5 }).accuracy),
      [0.6409420289855072, 0.6409420289855072, 0.6409420289855072, 0.6405797101449275, 0.6144927536231883],
    );
    const c = fitLinearClassifier(wide, wideLabels, 4, { l2: 0.01 });
    assert.equal(sha(c.kernel, c.bias), '04d1ef6859c51fe9');
  });

  it('linearProbe and fitLinearClassifier in primal form', () => {
    const labels = randomLabels(150, 3, 33);
    const f = features(labels, 20, 34, 0.5);
    assert.equal(linearProbe(f, labels, 3, { seed: 6 }).accuracy, 0.7066666666666667);
    const c = fitLinearClassifier(f, labels, 3);
    assert.equal(sha(c.kernel, c.bias), 'adfb34765897f48b');
  });

  it("initHeadByProbe: the head's weights, L2 and cross-validated accuracy", async () => {
    const x = tf.tensor2d(wide.data, [wide.rows, wide.cols]);
    const head = tf.sequential({ layers: [tf.layers.dense({ inputShape: [300], units: 4, activation: 'softmax' })] });
    const r = await initHeadByProbe(head, x, wideLabels, 4, 9);
    assert.deepEqual({ l2: r?.l2, cvAccuracy: r?.cvAccuracy }, { l2: 0.003, cvAccuracy: 0.553623188405797 });
    assert.equal(sha(...head.getWeights().map((w) => w.dataSync())), 'e4c789c049dfafb9');
    assert.ok(r!.solveSeconds > 0 && r!.solveSeconds <= r!.seconds);
    x.dispose();
    head.dispose();
  });

  it('lbfgs on the Rosenbrock function, adding into the zeroed gradient it is handed', () => {
    const rosenbrock = (x: Float64Array, g: Float64Array) => {
      let s = 0;
      for (let i = 0; i + 1 < x.length; i++) {
        const a = x[i + 1] - x[i] * x[i];
        const b = 1 - x[i];
        s += 100 * a * a + b * b;
        g[i] += -400 * a * x[i] - 2 * b;
        g[i + 1] += 200 * a;
      }
      return s;
    };
    const start = Float64Array.from({ length: 8 }, (_, i) => (i % 2 ? 1 : -1.2));
    assert.equal(sha(lbfgs(rosenbrock, { start, maxSteps: 200 })), 'ff8a8ef09830fb1c');
  });
});

describe('probeProblem', () => {
  it("gram is ml-matrix's mmulByTranspose to the bit, and symmetric", () => {
    for (const [n, d] of [
      [37, 53],
      [8, 3],
      [1, 5],
    ]) {
      const x = standardizeInPlace({ data: Float64Array.from(features(randomLabels(n, 2, n), d, d).data), rows: n, cols: d });
      const k = gram(x);
      assert.deepEqual(k, Float64Array.from(Matrix.from1DArray(n, d, x.data).mmulByTranspose().to1DArray()));
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assert.ok(Object.is(k[i * n + j], k[j * n + i]));
    }
  });

  it('gives what linearProbe and fitLinearClassifier give, call after call, in either order', () => {
    for (const [f, labels, classes] of [
      [wide, wideLabels, 4],
      [features(randomLabels(90, 3, 35), 12, 36, 0.6), randomLabels(90, 3, 35), 3],
    ] as const) {
      const problem = probeProblem(f, labels, classes);
      assert.deepEqual(problem.fit({ l2: 0.03 }), fitLinearClassifier(f, labels, classes, { l2: 0.03 }));
      for (const options of [
        { l2: 0.01, seed: 2 },
        { folds: 3, epochs: 20 },
        { l2: 0.01, seed: 2 },
      ])
        assert.deepEqual(problem.crossValidate(options), linearProbe(f, labels, classes, options));
      assert.deepEqual(problem.fit(), fitLinearClassifier(f, labels, classes));
    }
  });
});
