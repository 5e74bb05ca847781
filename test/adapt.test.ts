// Domain adaptation pieces against closed forms: CORAL's loss and covariance, the gradient
// reversal layer's gradient, DANN's schedules, AdaBN's statistics; then each method end to end on
// small synthetic features whose target domain is a shifted, rescaled copy of the source.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { mulberry32 } from '../src/math/random.js';
import { accuracyOn, trainAdaptation, ADAPT_METHODS } from '../src/strategies/adapt/adapt.js';
import { adaBN } from '../src/strategies/adapt/methods/adabn.js';
import { adaBNModel } from '../src/strategies/adapt/adabn.js';
import { colourSet, tinyModel } from './helpers.js';
import {
  confusionLoss,
  coralLoss,
  covariance,
  dannLambda,
  dannLearningRate,
  reverseGradient,
  stopGradient,
} from '../src/strategies/adapt/losses.js';

before(async () => {
  await useBackend('wasm');
});

const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} != ${b} (±${tol})`);

function randomMatrix(n: number, d: number, seed: number, shift = 0, scale = 1): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, (_, j) => (rand() - 0.5) * scale * (1 + j) + shift));
}

/** Unbiased covariance, by the definition, in float64. */
function covarianceOf(x: number[][]): number[][] {
  const n = x.length;
  const d = x[0].length;
  const mean = Array.from({ length: d }, (_, j) => x.reduce((s, r) => s + r[j], 0) / n);
  return Array.from({ length: d }, (_, a) =>
    Array.from({ length: d }, (_, b) => x.reduce((s, r) => s + (r[a] - mean[a]) * (r[b] - mean[b]), 0) / (n - 1)),
  );
}

describe('CORAL', () => {
  it('covariance and loss match the definitions: ‖C_s − C_t‖²_F / 4d²', () => {
    const s = randomMatrix(40, 5, 1);
    const t = randomMatrix(30, 5, 2, 0.3, 2);
    const cs = covarianceOf(s);
    const ct = covarianceOf(t);
    const got = covariance(tf.tensor2d(s)).arraySync();
    cs.forEach((row, a) => row.forEach((v, b) => close(got[a][b], v, 1e-5, `C[${a}][${b}]`)));
    let sum = 0;
    cs.forEach((row, a) => row.forEach((v, b) => (sum += (v - ct[a][b]) ** 2)));
    close(coralLoss(tf.tensor2d(s), tf.tensor2d(t)).dataSync()[0], sum / (4 * 25), 1e-5);
    assert.equal(coralLoss(tf.tensor2d(s), tf.tensor2d(s)).dataSync()[0], 0);
  });

  it('its gradient matches central finite differences', () => {
    const s = tf.tensor2d(randomMatrix(12, 3, 3));
    const t = tf.tensor2d(randomMatrix(10, 3, 4, 0, 3));
    const g = tf
      .grad((x: tf.Tensor) => coralLoss(x as tf.Tensor2D, t))(s)
      .arraySync() as number[][];
    const base = s.arraySync();
    for (const [i, j] of [
      [0, 0],
      [5, 2],
      [11, 1],
    ]) {
      const at = (h: number) => {
        const m = base.map((r) => r.slice());
        m[i][j] += h;
        return coralLoss(tf.tensor2d(m), t).dataSync()[0];
      };
      close(g[i][j], (at(1e-2) - at(-1e-2)) / 2e-2, 2e-4, `∂/∂x[${i}][${j}]`);
    }
  });
});

describe('gradient reversal and DANN schedules', () => {
  it('is the identity forward and multiplies the gradient by −λ backward', () => {
    const x = tf.tensor1d([1, -2, 3]);
    assert.deepEqual(Array.from(reverseGradient(x, 0.7).dataSync()), [1, -2, 3]);
    const f = (v: tf.Tensor) => tf.sum(tf.mul(reverseGradient(v, 0.7), tf.tensor1d([2, 3, 4])));
    const g = Array.from(tf.grad(f)(x).dataSync());
    [-1.4, -2.1, -2.8].forEach((v, i) => close(g[i], v, 1e-6));
  });

  it('stopGradient is the identity forward and passes no gradient back', () => {
    const x = tf.tensor1d([1, -2, 3]);
    assert.deepEqual(Array.from(stopGradient(x).dataSync()), [1, -2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.add(tf.mul(stopGradient(v), 5), v)))(x);
    assert.deepEqual(Array.from(g.dataSync()), [1, 1, 1]);
  });

  it('the confusion loss is the cross-entropy against 0.5: ½·(softplus(z) + softplus(−z)), lowest at z = 0', () => {
    const z = [-2, 0, 1.5];
    const softplus = (v: number) => Math.log1p(Math.exp(v));
    const expected = z.reduce((a, v) => a + 0.5 * (softplus(v) + softplus(-v)), 0) / z.length;
    close(confusionLoss(tf.tensor2d(z, [3, 1])).dataSync()[0], expected, 1e-6, 'value');
    const g = tf
      .grad((v: tf.Tensor) => confusionLoss(v as tf.Tensor2D))(tf.tensor2d(z, [3, 1]))
      .dataSync();
    // d/dz = (sigmoid(z) − ½) / n: zero at z = 0, pushing logits toward "cannot tell".
    z.forEach((v, i) => close(g[i], (1 / (1 + Math.exp(-v)) - 0.5) / z.length, 1e-6, `gradient ${i}`));
  });

  it('λ goes 0 → ~1 as 2/(1+exp(−10p))−1, the learning rate μ0/(1+10p)^0.75', () => {
    assert.equal(dannLambda(0), 0);
    close(dannLambda(0.5), 2 / (1 + Math.exp(-5)) - 1, 1e-12);
    assert.ok(dannLambda(1) > 0.9999);
    assert.equal(dannLearningRate(0.01, 0), 0.01);
    close(dannLearningRate(0.01, 1), 0.01 / 11 ** 0.75, 1e-15);
  });
});

/** Two Gaussian classes in 6-d; the target is the same task with every column shifted and scaled. */
function domains(seed: number) {
  const rand = mulberry32(seed);
  const make = (n: number, shift: number, scale: number) => {
    const y = Int32Array.from({ length: n }, (_, i) => i % 2);
    const x = Array.from(y, (c) =>
      Array.from({ length: 6 }, (_, j) => ((rand() - 0.5) * 2 + (j < 2 ? (c ? 1.5 : -1.5) : 0)) * scale + shift),
    );
    return { x: tf.tensor2d(x), y };
  };
  return { train: make(120, 0, 1), val: make(40, 0, 1), target: make(120, 2, 3) };
}

describe('adaptation methods', () => {
  it("AdaBN sets the BN layer's moving statistics to the target's batch statistics", async () => {
    const d = domains(5);
    const r = await trainAdaptation({ train: d.train, val: d.val }, d.target.x, 2, { method: 'none', epochs: 2, seed: 1 });
    adaBN(r.model, d.target.x);
    const pre = tf
      .model({ inputs: r.model.inputs, outputs: r.model.getLayer('adapt_bottleneck').output as tf.SymbolicTensor })
      .predict(d.target.x) as tf.Tensor2D;
    const { mean, variance } = tf.moments(pre, 0);
    const [, , movingMean, movingVariance] = r.model.getLayer('adapt_bn').getWeights();
    const diff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    assert.ok(diff(movingMean, mean) < 1e-5 && diff(movingVariance, variance) < 1e-5);
    // In inference the target's bottleneck activations now come out standardised (before γ, β).
    r.model.dispose();
  });

  it('every method trains, keeps its best source-validation epoch, and reports how it chose', async () => {
    const d = domains(6);
    const onTarget: Record<string, number> = {};
    for (const method of ADAPT_METHODS) {
      const r = await trainAdaptation({ train: d.train, val: d.val }, d.target.x, 2, {
        method,
        epochs: 8,
        seed: 2,
        selfTrain: { rounds: 1, threshold: 0.6 },
      });
      assert.match(r.checkpoint, /source validation/);
      assert.deepEqual(r.trainEngine, { engine: 'onnx' }, `${method} trains on ONNX Runtime by default`);
      close(accuracyOn(r.model, d.val.x, d.val.y), r.sourceValAccuracy, 1e-9, method);
      assert.ok(r.sourceValAccuracy > 0.8, `${method}: ${r.sourceValAccuracy}`);
      if (method === 'self-train') assert.equal(r.pseudoLabels!.length, 1);
      if (method === 'adabn') adaBN(r.model, d.target.x);
      onTarget[method] = accuracyOn(r.model, d.target.x, d.target.y);
      r.model.dispose();
    }
    // The target is the source shifted and rescaled: normalising it with its own statistics must help there.
    assert.ok(onTarget.adabn > onTarget.none, JSON.stringify(onTarget));
  });

  it("trains in TF.js when asked, to the ONNX Runtime step's accuracy", async () => {
    const d = domains(8);
    const accuracy: Record<string, number> = {};
    for (const trainEngine of ['tfjs', 'onnx'] as const) {
      const r = await trainAdaptation({ train: d.train, val: d.val }, d.target.x, 2, { method: 'coral', epochs: 4, seed: 4, trainEngine });
      assert.equal(r.trainEngine.engine, trainEngine);
      accuracy[trainEngine] = accuracyOn(r.model, d.target.x, d.target.y);
      r.model.dispose();
    }
    close(accuracy.onnx, accuracy.tfjs, 0.1, 'target accuracy, ONNX Runtime vs TF.js');
  });

  it('is repeatable for a seed (DANN with either adversary)', async () => {
    const d = domains(7);
    const [reversal, confusion] = [await repeatable(d, 'reversal'), await repeatable(d, 'confusion')];
    assert.notDeepEqual(reversal, confusion, 'the adversary changes training');
    // An option passed as undefined keeps its default (mnist-mnistm passes `adversary: undefined` for dann).
    assert.deepEqual(await repeatable(d, undefined), reversal);
  });
});

/** Two DANN runs with one seed give the same weights (returned). */
async function repeatable(d: ReturnType<typeof domains>, adversary: 'reversal' | 'confusion' | undefined): Promise<number[][]> {
  const run = async () => {
    const r = await trainAdaptation({ train: d.train, val: d.val }, d.target.x, 2, { method: 'dann', epochs: 2, seed: 3, adversary });
    const w = r.model.getWeights().map((t) => Array.from(t.dataSync()));
    r.model.dispose();
    return w;
  };
  const first = await run();
  assert.deepEqual(await run(), first);
  return first;
}

describe('AdaBN on a trunk', () => {
  it("with the whole sample in one batch, every BatchNorm layer's input has exactly the moving statistics set", async () => {
    const model = tinyModel();
    const images = colourSet(6);
    const norm = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    const adapted = await adaBNModel(model, images, norm, { batchSize: 64 });
    const norms = adapted.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    assert.ok(norms.length >= 2);
    const inputs = tf.model({ inputs: adapted.inputs, outputs: norms.map((l) => l.input as tf.SymbolicTensor) });
    const { imagesToTensor } = await import('../src/engine/tensors.js');
    const outs = [inputs.predict(imagesToTensor(images, norm))].flat() as tf.Tensor[];
    norms.forEach((layer, j) => {
      const w = layer.getWeights();
      const { mean, variance } = tf.moments(outs[j], [0, 1, 2]);
      const diff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
      assert.ok(diff(w[w.length - 2], mean) < 1e-4, `${layer.name} mean`);
      assert.ok(diff(w[w.length - 1], variance) < 1e-4 * (1 + tf.max(variance).dataSync()[0]), `${layer.name} variance`);
    });
    // The original model keeps its statistics.
    const before = model.getLayer(norms[0].name).getWeights();
    assert.notDeepEqual(Array.from(before[before.length - 2].dataSync()), Array.from(norms[0].getWeights().at(-2)!.dataSync()));
  });
});

describe('AdaBN on a frozen ONNX trunk', () => {
  it('has no BatchNorm to re-estimate there: the target features are its statistics, and the adaptation network adapts', async () => {
    const { loadOnnxBase } = await import('../src/bases/image/onnx.js');
    const { disposeDomainFeatures, domainFeatures, runAdaptation } = await import('../src/strategies/adapt/pipeline.js');
    const { saveTinyOnnx } = await import('./onnx-fixture.js');
    const { tempDir } = await import('./helpers.js');
    const base = await loadOnnxBase(saveTinyOnnx(tempDir()), { cut: 'pooled' });
    const set = colourSet(8);
    const data = {
      source: { train: set, val: colourSet(4, undefined, 2), test: colourSet(4, undefined, 3) },
      target: colourSet(6, undefined, 4),
    };
    const f = await domainFeatures(base, { ...data, evalTarget: data.target }, { cut: 'pooled', trunkStatistics: true });
    try {
      assert.equal(f.targetStatistics?.target, f.target);
      assert.equal(f.targetStatistics?.evalTarget, f.evalTarget);
      const r = await runAdaptation(f, { ...data, evalTarget: data.target }, 'adabn', { seed: 1, epochs: 2 });
      assert.ok(r.target && r.target.accuracy >= 0 && r.target.accuracy <= 1);
    } finally {
      disposeDomainFeatures(f);
    }
  });
});
