// Training steps on ONNX Runtime against TF.js's cpu backend (the reference): for every layer the
// step generator knows, the gradients (read off a momentum-free SGD step with learning rate 1:
// w - w' = g) equal tf.variableGrads' within 1e-4 of the largest; Adam's updates over three steps
// equal tf.train.adam's; dropout's masks replayed in TF.js give the same gradients; seeded runs
// repeat; what the generator does not know is named; fitStage trains on either engine.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { OnnxTrainer, onnxTrainerFor, stepVariable } from '../src/engine/onnx-train.js';
import { ADAPTATION_METHODS } from '../src/strategies/adapt/methods/index.js';
import type { AdaptationMethod } from '../src/strategies/adapt/types.js';
import { unsupportedReason } from '../src/onnx/train/step.js';
import { fitStage } from '../src/train/fit.js';
import { withSeed } from '../src/math/seed.js';
import { jointLoss, maskedTaskLoss } from '../src/train/multitask-loss.js';
import type { GroundTruth } from '../src/data/detection/types.js';
import type { DetectorClassifier } from '../src/bases/types.js';
import { applyDetectionHead } from '../src/graft/detect.js';
import { DETECTION_LOSS_WEIGHTS, detectionLoss } from '../src/train/detection-loss.js';
import { encodeTargets } from '../src/train/detection-targets.js';

let seed = 1;
const init = () => tf.initializers.glorotUniform({ seed: seed++ });

/** Small models, one or two of each layer the generator knows. */
const MODELS: Record<string, () => tf.LayersModel> = {
  'dense: relu, tanh, sigmoid, linear, softmax': () => {
    const x = tf.input({ shape: [7] });
    let h = x;
    for (const activation of ['relu', 'tanh', 'sigmoid', 'linear'] as const)
      h = tf.layers.dense({ units: 6, activation, kernelInitializer: init(), biasInitializer: 'ones' }).apply(h) as tf.SymbolicTensor;
    return tf.model({
      inputs: x,
      outputs: tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor,
    });
  },
  'conv: same/valid, stride 1/2, depthwise, max pooling, flatten': () => {
    const x = tf.input({ shape: [13, 11, 3] });
    let h = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() })
      .apply(x);
    h = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: init(), biasInitializer: 'ones' }).apply(h);
    h = tf.layers
      .depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2, strides: 2, padding: 'valid', depthwiseInitializer: init() })
      .apply(h);
    h = tf.layers.conv2d({ filters: 5, kernelSize: [2, 1], padding: 'valid', kernelInitializer: init(), useBias: false }).apply(h);
    h = tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }).apply(h);
    h = tf.layers.flatten().apply(h);
    return tf.model({
      inputs: x,
      outputs: tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor,
    });
  },
  'MobileNetV2-like: batch norm (inference, folded into the conv before it), ReLU6, residual add, global pooling, activation layer': () => {
    const x = tf.input({ shape: [6, 6, 4] });
    const bn = (t: tf.SymbolicTensor) =>
      tf.layers
        .batchNormalization({ gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed++ }) })
        .apply(t) as tf.SymbolicTensor;
    // A bias before a pinned norm too: the step folds each conv and its norm into one Conv.
    let h = tf.layers
      .conv2d({
        filters: 8,
        kernelSize: 1,
        kernelInitializer: init(),
        biasInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: seed++ }),
      })
      .apply(x) as tf.SymbolicTensor;
    h = tf.layers.reLU({ maxValue: 6 }).apply(bn(h)) as tf.SymbolicTensor;
    h = tf.layers
      .depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: init() })
      .apply(h) as tf.SymbolicTensor;
    h = tf.layers.reLU({ maxValue: 6 }).apply(bn(h)) as tf.SymbolicTensor;
    h = bn(tf.layers.conv2d({ filters: 4, kernelSize: 1, useBias: false, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor);
    h = tf.layers.add().apply([x, h]) as tf.SymbolicTensor;
    h = tf.layers.activation({ activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: x, outputs: tf.layers.activation({ activation: 'softmax' }).apply(out) as tf.SymbolicTensor });
  },
};

/** Random (but fixed) moving statistics, so inference-mode batch norm is not the identity. */
function randomiseStatistics(model: tf.LayersModel): void {
  for (const layer of model.layers)
    if (layer.getClassName() === 'BatchNormalization') {
      // The moving mean and variance are the last two weights (gamma and beta may be absent).
      const w = layer.getWeights();
      const c = w.at(-1)!.shape[0];
      layer.setWeights([
        ...w.slice(0, -2),
        tf.randomNormal([c], 0, 0.5, 'float32', seed++),
        tf.randomUniform([c], 0.5, 2, 'float32', seed++),
      ]);
    }
}

function batch(model: tf.LayersModel, n: number): { x: tf.Tensor; y: tf.Tensor } {
  const shape = (model.inputs[0].shape as number[]).slice(1);
  const k = (model.outputs[0].shape as number[])[1];
  const x = tf.randomUniform([n, ...shape], -1, 1, 'float32', seed++);
  const y = tf.cast(
    tf.oneHot(
      tf.tensor1d(
        Array.from({ length: n }, (_, i) => (i * 7) % k),
        'int32',
      ),
      k,
    ),
    'float32',
  );
  return { x, y };
}

const allBatchNorm = () => true;

/** max |a - b| over max |b|. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / Math.max(scale, 1e-12);
}

const values = (model: tf.LayersModel) => model.trainableWeights.map((w) => w.read().dataSync().slice() as Float32Array);

describe('training steps on ONNX Runtime', () => {
  before(async () => {
    await useBackend('cpu');
  });

  for (const [name, make] of Object.entries(MODELS)) {
    it(`gradients equal TF.js's: ${name}`, async () => {
      const model = make();
      randomiseStatistics(model);
      assert.equal(unsupportedReason(model, { inferenceBatchNorm: allBatchNorm }), undefined);
      const { x, y } = batch(model, 6);
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(
        () => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor)) as tf.Scalar,
        variables,
      );
      const start = values(model);
      const trainer = await OnnxTrainer.create(model, {
        optimizer: { kind: 'momentum', momentum: 0 },
        inferenceBatchNorm: allBatchNorm,
        threads: 1,
      });
      const logs = await trainer.train(x.dataSync() as Float32Array, x.shape, y.dataSync() as Float32Array, 1);
      trainer.writeBack();
      await trainer.release();
      assert.ok(Math.abs(logs.loss - value.dataSync()[0]) < 1e-5, `loss ${logs.loss} vs ${value.dataSync()[0]}`);
      values(model).forEach((after, i) => {
        const g = grads[variables[i].name].dataSync();
        const mine = after.map((v, k) => start[i][k] - v);
        const e = relativeError(mine, g);
        assert.ok(e < 1e-4, `${variables[i].name}: relative error ${e}`);
      });
    });
  }

  it("three Adam steps move the weights as tf.train.adam's do", async () => {
    const make = MODELS['conv: same/valid, stride 1/2, depthwise, max pooling, flatten'];
    seed = 100;
    const [a, b] = [make(), make()];
    b.setWeights(a.getWeights());
    const start = values(a);
    const optimizer = tf.train.adam(0.01);
    const trainer = await OnnxTrainer.create(b, { optimizer: { kind: 'adam' }, threads: 1 });
    for (let s = 0; s < 3; s++) {
      const { x, y } = batch(a, 5);
      optimizer.minimize(() => tf.mean(tf.metrics.categoricalCrossentropy(y, a.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar);
      await trainer.train(x.dataSync() as Float32Array, x.shape, y.dataSync() as Float32Array, 0.01);
    }
    trainer.writeBack();
    await trainer.release();
    const [wa, wb] = [values(a), values(b)];
    wa.forEach((w, i) => {
      const e = relativeError(
        wb[i].map((v, k) => v - start[i][k]),
        w.map((v, k) => v - start[i][k]),
      );
      assert.ok(e < 1e-4, `${a.trainableWeights[i].name}: update relative error ${e}`);
    });
  });

  it('dropout: the masks it drew, replayed in TF.js, give the same gradients; a seed repeats them', async () => {
    const x0 = tf.input({ shape: [9] });
    const d1 = tf.layers.dense({ units: 12, activation: 'relu', kernelInitializer: init() });
    const drop = tf.layers.dropout({ rate: 0.4 });
    const d2 = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init() });
    const model = tf.model({ inputs: x0, outputs: d2.apply(drop.apply(d1.apply(x0))) as tf.SymbolicTensor });
    const { x, y } = batch(model, 8);
    const start = values(model);
    const run = async (s: number) => {
      model.setWeights(start.map((v, i) => tf.tensor(v, model.trainableWeights[i].shape as number[])));
      const t = await OnnxTrainer.create(model, { optimizer: { kind: 'momentum', momentum: 0 }, seed: s, exposeMasks: true, threads: 1 });
      const logs = await t.train(x.dataSync() as Float32Array, x.shape, y.dataSync() as Float32Array, 1);
      t.writeBack();
      await t.release();
      return { mask: logs.masks![0].data, after: values(model) };
    };
    const first = await run(3);
    const again = await run(3);
    const other = await run(4);
    assert.deepEqual([...again.mask], [...first.mask], 'the same seed draws the same mask');
    assert.notDeepEqual([...other.mask], [...first.mask], 'another seed draws another');
    const zeros = first.mask.filter((v) => v === 0).length / first.mask.length;
    assert.ok(zeros > 0.15 && zeros < 0.65, `a rate of 0.4 drops about 40%: ${zeros}`);
    assert.ok(first.mask.every((v) => v === 0 || Math.abs(v - 1 / 0.6) < 1e-6));
    model.setWeights(start.map((v, i) => tf.tensor(v, model.trainableWeights[i].shape as number[])));
    const mask = tf.tensor(first.mask, [8, 12]);
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => {
      const p = d2.apply(tf.mul(d1.apply(x) as tf.Tensor, mask)) as tf.Tensor;
      return tf.mean(tf.metrics.categoricalCrossentropy(y, p)) as tf.Scalar;
    }, variables);
    first.after.forEach((w, i) => {
      const e = relativeError(
        w.map((v, k) => start[i][k] - v),
        grads[variables[i].name].dataSync(),
      );
      assert.ok(e < 1e-4, `${variables[i].name}: relative error ${e}`);
    });
  });

  for (const learned of [false, true])
    it(`the masked multi-task loss, ${learned ? 'learned (uncertainty)' : 'fixed'} task weights: gradients equal TF.js's (classification, multi-label, regression; unlabelled rows)`, async () => {
      const input = tf.input({ shape: [6] });
      const trunk = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init() }).apply(input) as tf.SymbolicTensor;
      const head = (units: number, activation: 'softmax' | 'sigmoid' | 'linear') =>
        tf.layers.dense({ units, activation, kernelInitializer: init() }).apply(trunk) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: [head(3, 'softmax'), head(2, 'sigmoid'), head(2, 'linear')] });
      const kinds = ['classification', 'multi-label', 'regression'] as const;
      const weights = [1, 0.5, 2];
      const n = 7;
      const x = tf.randomUniform([n, 6], -1, 1, 'float32', seed++);
      const classes = [0, 2, -1, 1, 1, -1, 2];
      const labels = [
        [1, 0],
        [NaN, NaN],
        [0, 1],
        [1, 1],
        [NaN, NaN],
        [0, 0],
        [1, 0],
      ].flat();
      const measured = [
        [0.5, -1],
        [2, 0],
        [NaN, NaN],
        [1, 1],
        [-0.5, 0.3],
        [NaN, NaN],
        [0, 2],
      ].flat();
      const truth = [tf.tensor1d(classes, 'int32'), tf.tensor2d(labels, [n, 2]), tf.tensor2d(measured, [n, 2])];
      // Learned: log σ² per task, started away from 0 so every term of the weighting counts.
      const logVariance = tf.variable(tf.tensor1d([0.3, -0.2, 0.5]), true, `log_variance_${seed++}`);
      const variables = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...(learned ? [logVariance] : [])];
      const { value, grads } = tf.variableGrads(() => {
        const outs = model.apply(x) as tf.Tensor[];
        const losses = kinds.map((k, t) => maskedTaskLoss(k, truth[t], outs[t]).loss);
        return jointLoss(losses, [...kinds], learned ? { kind: 'uncertainty', logVariance } : { kind: 'fixed', weights });
      }, variables);
      const start = [...values(model), logVariance.dataSync().slice()];
      const trainer = await OnnxTrainer.create(model, {
        optimizer: { kind: 'momentum', momentum: 0 },
        loss: {
          kind: 'masked-tasks',
          tasks: kinds.map((kind, t) => ({ kind, weight: learned ? 1 : weights[t] })),
          ...(learned ? { logVariance: stepVariable(logVariance) } : {}),
        },
        threads: 1,
      });
      const oneHot = classes.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0)));
      const rowsOf = (v: number[]) => v.map((a) => (Number.isNaN(a) ? 0 : a));
      const maskOf = (v: number[]) => Array.from({ length: n }, (_, i) => (Number.isNaN(v[2 * i]) ? 0 : 1));
      const logs = await trainer.train(
        x.dataSync() as Float32Array,
        x.shape,
        [
          { y: oneHot, mask: classes.map((c) => (c >= 0 ? 1 : 0)) },
          { y: rowsOf(labels), mask: maskOf(labels) },
          { y: rowsOf(measured), mask: maskOf(measured) },
        ],
        1,
      );
      trainer.writeBack();
      await trainer.release();
      assert.ok(Math.abs(logs.loss - value.dataSync()[0]) < 1e-5, `loss ${logs.loss} vs ${value.dataSync()[0]}`);
      [...values(model), ...(learned ? [logVariance.dataSync() as Float32Array] : [])].forEach((after, i) => {
        const e = relativeError(
          after.map((v, k) => start[i][k] - v),
          grads[variables[i].name].dataSync(),
        );
        assert.ok(e < 1e-4, `${variables[i].name}: relative error ${e}`);
      });
    });

  it("batch norm in training mode: the batch's statistics, gradients and the moved moving statistics equal TF.js's", async () => {
    // No biases before the norms: the batch's mean removes them, so their gradient is zero up to rounding.
    const make = () => {
      const input = tf.input({ shape: [5, 5, 3] });
      let h = tf.layers
        .conv2d({ filters: 4, kernelSize: 3, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 40 }) })
        .apply(input);
      h = tf.layers
        .batchNormalization({ momentum: 0.9, gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 41 }) })
        .apply(h);
      h = tf.layers.flatten().apply(tf.layers.activation({ activation: 'relu' }).apply(h));
      h = tf.layers.dense({ units: 6, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 42 }) }).apply(h);
      h = tf.layers.batchNormalization({ momentum: 0.8 }).apply(h) as tf.SymbolicTensor;
      return tf.model({
        inputs: input,
        outputs: tf.layers
          .dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 43 }) })
          .apply(h) as tf.SymbolicTensor,
      });
    };
    const [a, b] = [make(), make()];
    randomiseStatistics(a);
    b.setWeights(a.getWeights());
    const { x, y } = batch(a, 6);
    const variables = a.trainableWeights.map((w) => w.read() as tf.Variable);
    // TF.js: one training-mode pass, which also moves the moving statistics.
    const { grads } = tf.variableGrads(
      () => tf.mean(tf.metrics.categoricalCrossentropy(y, a.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
      variables,
    );
    const start = values(b);
    assert.equal(unsupportedReason(b), undefined);
    const trainer = await OnnxTrainer.create(b, { optimizer: { kind: 'momentum', momentum: 0 }, threads: 1 });
    await trainer.train(x.dataSync() as Float32Array, x.shape, y.dataSync() as Float32Array, 1);
    trainer.writeBack();
    values(b).forEach((after, i) => {
      const e = relativeError(
        after.map((v, k) => start[i][k] - v),
        grads[variables[i].name].dataSync(),
      );
      assert.ok(e < 1e-4, `${variables[i].name}: relative error ${e}`);
    });
    const statistics = (m: tf.LayersModel) =>
      m.layers
        .filter((l) => l.getClassName() === 'BatchNormalization')
        .flatMap((l) =>
          l
            .getWeights()
            .slice(-2)
            .map((t) => t.dataSync()),
        );
    const [moved, expected] = [statistics(b), statistics(a)];
    expected.forEach((e, i) => assert.ok(relativeError(moved[i], e) < 1e-5, `moving statistic ${i}: ${relativeError(moved[i], e)}`));
    // The forward-only evaluation normalises with the moving statistics, as TF.js's predict does.
    const evaluated = await trainer.evaluate(x.dataSync() as Float32Array, x.shape, y.dataSync() as Float32Array);
    await trainer.release();
    const reference = tf.mean(tf.metrics.categoricalCrossentropy(y, b.predict(x) as tf.Tensor)).dataSync()[0];
    assert.ok(Math.abs(evaluated.loss - reference) < 1e-5, `evaluation loss ${evaluated.loss} vs ${reference}`);
  });

  for (const [name, method, adversary] of [
    ['source only (no target rows)', 'none', undefined],
    ['Deep CORAL', 'coral', undefined],
    ['DANN, reversed gradient', 'dann', 'reversal'],
    ['DANN, confusion', 'dann', 'confusion'],
  ] as const)
    it(`domain adaptation, ${name}: the loss and gradients (bottleneck in training-mode batch norm, domain classifier) equal TF.js's`, async () => {
      // The adaptation network as strategies/adapt builds it, small.
      const input = tf.input({ shape: [5] });
      let h = tf.layers.dense({ units: 6, name: 'adapt_bottleneck', kernelInitializer: init() }).apply(input) as tf.SymbolicTensor;
      h = tf.layers.batchNormalization({ name: 'adapt_bn' }).apply(h) as tf.SymbolicTensor;
      h = tf.layers.activation({ activation: 'relu', name: 'adapt_relu' }).apply(h) as tf.SymbolicTensor;
      const output = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init() });
      const model = tf.model({ inputs: input, outputs: output.apply(h) as tf.SymbolicTensor });
      const features = tf.model({ inputs: input, outputs: h });
      const m: AdaptationMethod = ADAPTATION_METHODS[method];
      const run = m.start?.({ bottleneck: 6, coralWeight: 0.7, adversary: adversary ?? 'reversal' });
      const [ns, nt] = [7, m.aligned ? 5 : 0];
      const xs = tf.randomUniform([ns, 5], -1, 1, 'float32', seed++);
      const xt = tf.randomUniform([nt, 5], 0, 2, 'float32', seed++);
      const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 1, 0, 2, 2], 'int32'), 3).toFloat();
      const progress = 0.3;
      const own = run?.step?.term.kind === 'domain-classifier' ? run.step.term.weights.map((w) => w.read() as tf.Variable) : [];
      const variables = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...own];
      const start = variables.map((v) => v.dataSync().slice());
      // TF.js: trainAdaptation's loss (tfjsSteps in strategies/adapt/adapt.ts).
      const { value, grads } = tf.variableGrads(() => {
        const all = features.apply(m.aligned ? tf.concat([xs, xt]) : xs, { training: true }) as tf.Tensor2D;
        const hs = all.slice(0, ns);
        const loss = tf.losses.softmaxCrossEntropy(ys, tf.log(tf.add(output.apply(hs) as tf.Tensor, 1e-7))) as tf.Scalar;
        return run ? run.addLoss(loss, { h: all, hs, ht: all.slice(ns), progress }) : loss;
      }, variables);
      const trainer = await OnnxTrainer.create(model, {
        optimizer: { kind: 'momentum', momentum: 0 },
        loss: { kind: 'adaptation', features: 'adapt_relu', term: run?.step?.term ?? { kind: 'none' } },
        threads: 1,
      });
      const x = tf.concat([xs, xt]);
      const logs = await trainer.train(
        x.dataSync() as Float32Array,
        x.shape,
        ys.dataSync() as Float32Array,
        1,
        run?.step?.scalars?.(progress),
      );
      trainer.writeBack();
      await trainer.release();
      assert.ok(Math.abs(logs.loss - value.dataSync()[0]) < 1e-5, `loss ${logs.loss} vs ${value.dataSync()[0]}`);
      variables.forEach((v, i) => {
        const [mine, theirs] = [v.dataSync().map((a, k) => start[i][k] - a), grads[v.name].dataSync()];
        // The bottleneck's bias: the batch norm after it removes it, so its gradient is zero up to rounding.
        if (v.name.includes('adapt_bottleneck') && v.shape.length === 1)
          return assert.ok(Math.max(...mine.map(Math.abs), ...theirs.map(Math.abs)) < 1e-6, `${v.name}: not zero`);
        const e = relativeError(mine, theirs);
        assert.ok(e < 1e-4, `${v.name}: relative error ${e}`);
      });
      run?.dispose?.();
    });

  // With a head start the heatmap's logit adds the maximum of per-level convolutions (Keras's Maximum, Add, Activation).
  const classifier = (classes: number): DetectorClassifier => ({
    classes: ['a', 'b', 'c'],
    cut: 'features',
    levels: [8, 16].map((stride, i) => ({
      stride,
      offset: 3 * i,
      channels: 3,
      kernel: new Float32Array(3 * classes),
      bias: new Float32Array(classes),
    })),
  });
  for (const started of [false, true])
    it(`CenterNet's loss on a detection head (concatenated outputs${started ? '; head start: Maximum, Add, Activation' : ''}): the loss, gradients, grid and validation loss equal TF.js's`, async () => {
      const [h, w, classes, stride] = [5, 6, 2, 8];
      const features = tf.input({ shape: [h, w, 6] });
      const model = tf.model({
        inputs: features,
        outputs: applyDetectionHead(features, classes, started ? classifier(classes) : undefined),
      });
      const n = 3;
      const x = tf.randomUniform([n, h, w, 6], 0, 1, 'float32', seed++);
      const objects: GroundTruth[][] = [
        [{ label: 0, box: [4, 6, 20, 14], ignore: false }],
        [
          { label: 1, box: [10, 3, 9, 30], ignore: false },
          { label: 0, box: [26, 20, 18, 16], ignore: false },
        ],
        [],
      ];
      const grids = objects.map((o) => encodeTargets(o, { classes, stride, gridH: h, gridW: w }));
      const depth = grids[0].length / (h * w);
      const y = tf.tensor4d(Float32Array.from(grids.flatMap((t) => [...t])), [n, h, w, depth]);
      const variables = model.trainableWeights.map((v) => v.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => detectionLoss(model.apply(x) as tf.Tensor4D, y, classes), variables);
      const grid = (model.predict(x) as tf.Tensor).dataSync();
      const start = values(model);
      const loss = { kind: 'detection' as const, classes, ...DETECTION_LOSS_WEIGHTS };
      assert.equal(unsupportedReason(model, { loss }), undefined);
      assert.match(unsupportedReason(model, { loss: { ...loss, classes: 3 } })!, /not a grid of 3 heatmaps/);
      const trainer = await OnnxTrainer.create(model, { optimizer: { kind: 'momentum', momentum: 0 }, loss, threads: 1 });
      const targets = { data: y.dataSync() as Float32Array, dims: y.shape };
      const before = await trainer.forward(x.dataSync() as Float32Array, x.shape, targets);
      const logs = await trainer.train(x.dataSync() as Float32Array, x.shape, targets, 1);
      trainer.writeBack();
      await trainer.release();
      assert.ok(Math.abs(logs.loss - value.dataSync()[0]) < 1e-4, `loss ${logs.loss} vs ${value.dataSync()[0]}`);
      assert.ok(Math.abs(before.loss - value.dataSync()[0]) < 1e-4, `validation loss ${before.loss} vs ${value.dataSync()[0]}`);
      assert.ok(relativeError(before.output, grid) < 1e-5, 'the grid, in TF.js layout');
      values(model).forEach((after, i) => {
        const e = relativeError(
          after.map((v, k) => start[i][k] - v),
          grads[variables[i].name].dataSync(),
        );
        assert.ok(e < 1e-4, `${variables[i].name}: relative error ${e}`);
      });
    });

  it('names what it cannot train, and the auto engine falls back to TF.js saying why', async () => {
    const x = tf.input({ shape: [5] });
    const embed = tf.model({
      inputs: x,
      outputs: tf.layers
        .dense({ units: 2, activation: 'softmax' })
        .apply(tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 10, outputDim: 3 }).apply(x))) as tf.SymbolicTensor,
    });
    assert.match(unsupportedReason(embed)!, /Embedding/);
    const regression = tf.model({ inputs: x, outputs: tf.layers.dense({ units: 1 }).apply(x) as tf.SymbolicTensor });
    assert.match(unsupportedReason(regression)!, /not a softmax/);
    assert.match(unsupportedReason(tf.model({ inputs: [x, tf.input({ shape: [2] })], outputs: x }))!, /several inputs/);
    const auto = await onnxTrainerFor(embed, 'auto', { optimizer: { kind: 'adam' } });
    assert.deepEqual(auto.used, {
      engine: 'tfjs',
      reason: 'layer embedding_Embedding1 (Embedding)'.replace(/embedding_Embedding1/, embed.layers[1].name),
    });
    await assert.rejects(onnxTrainerFor(embed, 'onnx', { optimizer: { kind: 'adam' } }), /--train-engine onnx: .*Embedding/);
  });

  it('fitStage learns a separable problem on either engine, repeats a seeded run, and reports where it trained', async () => {
    const make = () => {
      const x = tf.input({ shape: [4] });
      const h = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }).apply(x);
      return tf.model({
        inputs: x,
        outputs: tf.layers
          .dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) })
          .apply(h) as tf.SymbolicTensor,
      });
    };
    const xs = tf.randomNormal([200, 4], 0, 1, 'float32', 9);
    const ys = tf.cast(tf.oneHot(tf.cast(tf.greater(tf.sum(xs, 1), 0), 'int32'), 2), 'float32');
    const weights: Float32Array[][] = [];
    for (const engine of ['onnx', 'onnx', 'tfjs'] as const) {
      const model = make();
      // The batch order comes from Math.random (as model.fit's does): seeded.
      const r = await withSeed(2, () =>
        fitStage(model, xs, ys, [xs, ys], {
          stage: 'head',
          epochs: 15,
          learningRate: 0.05,
          batchSize: 32,
          patience: 15,
          trainEngine: engine,
          seed: 1,
        }),
      );
      assert.equal(r.trainEngine.engine, engine);
      const p = model.predict(xs) as tf.Tensor;
      const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(p, 1), tf.argMax(ys, 1)), 'float32')).dataSync()[0];
      assert.ok(accuracy > 0.9, `${engine}: accuracy ${accuracy}`);
      weights.push(values(model));
    }
    assert.deepEqual(weights[1], weights[0], 'a seeded run on ONNX Runtime repeats bit for bit');
  });
});
