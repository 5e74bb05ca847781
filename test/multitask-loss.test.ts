// Multi-task losses against closed forms: masking per task (unlabelled samples give no loss and no
// gradient), and fixed and uncertainty weighting (Kendall et al. 2018).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { jointLoss, maskedTaskLoss, taskWeights, uncertaintyWeights } from '../src/train/multitask-loss.js';

before(() => useBackend('wasm'));

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe('maskedTaskLoss', () => {
  const p = [
    [0.7, 0.2, 0.1],
    [0.1, 0.8, 0.1],
    [0.2, 0.2, 0.6],
  ];

  it('classification: cross-entropy averaged over labelled rows only; unlabelled rows get no gradient', () => {
    const truth = tf.tensor1d([0, -1, 2], 'int32');
    const predicted = tf.tensor2d(p);
    const { loss, labelled } = maskedTaskLoss('classification', truth, predicted);
    close(loss.dataSync()[0], (-Math.log(0.7) - Math.log(0.6)) / 2);
    assert.equal(labelled.dataSync()[0], 2);
    const g = tf
      .grad((x: tf.Tensor) => maskedTaskLoss('classification', truth, x).loss)(predicted)
      .arraySync() as number[][];
    assert.ok(
      g[1].every((v) => v === 0),
      `unlabelled row's gradient: ${g[1]}`,
    );
    close(g[0][0], -1 / 0.7 / 2);
    close(g[2][2], -1 / 0.6 / 2);
    tf.dispose([truth, predicted, loss, labelled]);
  });

  it('multi-label: binary cross-entropy over labelled rows; a NaN row gives no loss, no gradient and no NaN', () => {
    const truth = tf.tensor2d([
      [1, 0, 0],
      [NaN, NaN, NaN],
      [0, 1, 1],
    ]);
    const predicted = tf.tensor2d(p);
    const bce = (y: number[], q: number[]) =>
      -y.reduce((a, yi, j) => a + yi * Math.log(q[j]) + (1 - yi) * Math.log(1 - q[j]), 0) / y.length;
    const { loss } = maskedTaskLoss('multi-label', truth, predicted);
    close(loss.dataSync()[0], (bce([1, 0, 0], p[0]) + bce([0, 1, 1], p[2])) / 2);
    const g = tf
      .grad((x: tf.Tensor) => maskedTaskLoss('multi-label', truth, x).loss)(predicted)
      .arraySync() as number[][];
    assert.ok(
      g[1].every((v) => v === 0),
      `unlabelled row's gradient: ${g[1]}`,
    );
    assert.ok(g.flat().every(Number.isFinite));
    tf.dispose([truth, predicted, loss]);
  });

  it('regression: mean squared error over labelled rows', () => {
    const truth = tf.tensor2d([[1], [NaN], [3]]);
    const predicted = tf.tensor2d([[2], [100], [1]]);
    const { loss, labelled } = maskedTaskLoss('regression', truth, predicted);
    close(loss.dataSync()[0], (1 + 4) / 2);
    assert.equal(labelled.dataSync()[0], 2);
    tf.dispose([truth, predicted, loss, labelled]);
  });

  it('a batch with no label for the task: loss 0 and a zero gradient', () => {
    const truth = tf.tensor1d([-1, -1], 'int32');
    const predicted = tf.tensor2d([p[0], p[1]]);
    assert.equal(maskedTaskLoss('classification', truth, predicted).loss.dataSync()[0], 0);
    const g = tf.grad((x: tf.Tensor) => maskedTaskLoss('classification', truth, x).loss)(predicted);
    assert.ok(g.dataSync().every((v) => v === 0));
    tf.dispose([truth, predicted, g]);
  });
});

describe('jointLoss', () => {
  it('fixed weights: the weighted sum', () => {
    const losses = [tf.scalar(2), tf.scalar(3)];
    close(jointLoss(losses, ['classification', 'regression'], { kind: 'fixed', weights: [0.5, 2] }).dataSync()[0], 0.5 * 2 + 2 * 3);
    tf.dispose(losses);
  });

  it("uncertainty: Kendall et al.'s terms; minimising over s gives s = log 2L (classification), s = log L (regression)", () => {
    const w = uncertaintyWeights(2);
    if (w.kind !== 'uncertainty') throw new Error('expected uncertainty weighting');
    w.logVariance.assign(tf.tensor1d([0.3, -0.2]));
    const [l1, l2] = [0.8, 2.5];
    const losses = [tf.scalar(l1), tf.scalar(l2)];
    const kinds = ['classification', 'regression'] as const;
    const value = jointLoss(losses, [...kinds], w).dataSync()[0];
    close(value, Math.exp(-0.3) * l1 + 0.15 + 0.5 * Math.exp(0.2) * l2 - 0.1);
    // Gradient descent on s alone, the task losses held fixed.
    const opt = tf.train.sgd(0.5);
    for (let i = 0; i < 400; i++) opt.minimize(() => jointLoss(losses, [...kinds], w), false, [w.logVariance]);
    const s = w.logVariance.dataSync();
    close(s[0], Math.log(2 * l1), 1e-3);
    close(s[1], Math.log(l2), 1e-3);
    const weights = taskWeights([...kinds], w);
    close(weights[0], 1 / (2 * l1), 1e-3);
    close(weights[1], 0.5 / l2, 1e-3);
    tf.dispose(losses);
    w.logVariance.dispose();
    opt.dispose();
  });
});
