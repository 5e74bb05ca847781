import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { cutPoints } from '../src/bases/structure.js';
import { GraftError } from '../src/core/errors.js';
import { classificationMetrics } from '../src/evaluate/metrics.js';
import { resolveCut } from '../src/graft/cut.js';
import { disposeGrafted, graft, unfreezeBoundary } from '../src/graft/graft.js';
import { parseHead } from '../src/graft/head.js';
import { modelAbove, modelBelow } from '../src/graft/split.js';
import { fitStage } from '../src/train/fit.js';
import { withSeed } from '../src/math/seed.js';
import { imagesToTensor, oneHot } from '../src/engine/tensors.js';
import { trainGrafted } from '../src/train/stages.js';
import { FeatureCache } from '../src/engine/feature-cache.js';
import { colourSet, tempDir, tinyBase, tinyModel } from './helpers.js';

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
const snapshot = (m: tf.LayersModel, names: string[]) =>
  names.flatMap((n) =>
    m
      .getLayer(n)
      .getWeights()
      .map((w) => Array.from(w.dataSync())),
  );

before(async () => {
  await useBackend('wasm');
});

describe('cut points and cuts', () => {
  it('finds single-tensor cut points, skipping layers a residual connection jumps over', () => {
    const m = tinyModel();
    const names = [...cutPoints(m)].map((i) => m.layers[i].name);
    assert.deepEqual(names, ['stem_conv', 'stem_bn', 'stem_relu', 'block_1_add', 'top_conv', 'pool', 'classifier']);
  });

  it('resolves auto to the last feature layer before the classifier, and names, indices', () => {
    const base = tinyBase();
    assert.equal(resolveCut(base, 'auto'), 'top_conv');
    assert.equal(resolveCut(base, 'block_1_add'), 'block_1_add');
    assert.equal(resolveCut(base, String(base.model!.layers.findIndex((l) => l.name === 'stem_relu'))), 'stem_relu');
  });

  it('rejects an unknown layer or a non-cut layer with a usage error listing candidates', () => {
    const base = tinyBase();
    for (const cut of ['nope', 'block_1_bn']) {
      assert.throws(
        () => resolveCut(base, cut),
        (e: unknown) => e instanceof GraftError && e.exitCode === 2 && /candidates: .*block_1_add/.test(e.message),
      );
    }
  });
});

describe('graft', () => {
  it('puts a head of the requested size on the cut and freezes everything below it', async () => {
    const g = await graft(tinyBase(), { classes: ['a', 'b'], cut: 'block_1_add' });
    assert.deepEqual(g.model.outputs[0].shape, [null, 2]);
    assert.ok(!g.model.layers.some((l) => l.name === 'classifier' || l.name === 'top_conv'), 'layers above the cut are dropped');
    const trainable = g.model.layers.filter((l) => l.trainable && l.getWeights().length).map((l) => l.name);
    assert.deepEqual(trainable, ['head_output']);
  });

  it('splits at a cut point into two models whose composition equals the whole', async () => {
    const g = await graft(tinyBase(), { classes: ['a', 'b', 'c'], cut: 'top_conv' });
    const x = tf.randomUniform([4, 16, 16, 3], 0, 1, 'float32', 7);
    for (const boundary of ['stem_relu', 'block_1_add', 'top_conv']) {
      const composed = modelAbove(g.model, boundary).predict(modelBelow(g.model, boundary).predict(x) as tf.Tensor) as tf.Tensor;
      assert.ok(maxAbsDiff(composed, g.model.predict(x) as tf.Tensor) < 1e-6, boundary);
    }
  });

  it('scratch keeps the architecture but not the weights, and trains everything', async () => {
    const base = tinyBase();
    const g = await withSeed(3, () => graft(base, { classes: ['a', 'b'], cut: 'top_conv', scratch: true }));
    const before = base.model!.getLayer('stem_conv').getWeights()[0];
    const after = g.model.getLayer('stem_conv').getWeights()[0];
    assert.deepEqual(after.shape, before.shape);
    assert.ok(maxAbsDiff(after, before) > 1e-3);
    assert.ok(g.model.layers.filter((l) => l.getWeights().length).every((l) => l.trainable));
  });

  it('unfreezes by block, moving the boundary down to a cut point', async () => {
    const g = await graft(tinyBase(), { classes: ['a', 'b'], cut: 'block_1_add' });
    assert.equal(unfreezeBoundary(g, 0), 'block_1_add');
    // Generic blocks: stem_conv… | block_1_depthwise… | …; one block up from the cut starts at the depthwise conv.
    assert.equal(unfreezeBoundary(g, 1), 'stem_relu');
  });
});

describe('training', () => {
  it('leaves frozen weights and every base BatchNorm statistic bit-identical after staged training', async () => {
    const base = tinyBase();
    const g = await graft(base, { classes: ['red', 'blue'], cut: 'block_1_add' });
    const frozenBefore = snapshot(g.model, ['stem_conv', 'stem_bn']);
    // BN weights are [gamma, beta, movingMean, movingVariance]; block_1 is unfrozen in stage 2.
    const statsOf = () => snapshot(g.model, ['block_1_bn']).slice(2);
    const statsBefore = statsOf();
    const headBefore = snapshot(g.model, ['head_output']);
    const projectBefore = snapshot(g.model, ['block_1_project']);
    const data = { train: colourSet(12), val: colourSet(4, undefined, 2) };
    // A random head (not the probe's, already at its best) so both stages have something to learn, on either training engine.
    const r = await trainGrafted(g, data, { epochs: 3, unfreeze: 1, seed: 1, batchSize: 8, headInit: 'random' });
    assert.deepEqual(
      r.stages.map((s) => s.stage),
      ['head', 'fine-tune'],
    );
    assert.deepEqual(snapshot(g.model, ['stem_conv', 'stem_bn']), frozenBefore, 'frozen layers are bit-identical');
    assert.deepEqual(snapshot(base.model!, ['block_1_project']), projectBefore, 'the base itself is never changed by training a graft');
    assert.deepEqual(statsOf(), statsBefore, 'an unfrozen BN layer keeps its moving statistics (inference mode)');
    assert.notDeepEqual(snapshot(g.model, ['head_output']), headBefore, 'the head trained');
    assert.notDeepEqual(snapshot(g.model, ['block_1_project']), projectBefore, 'the unfrozen block trained in stage 2');
  });

  it('training on cached trunk outputs gives the same model as recomputing the trunk every step', async () => {
    const data = { train: colourSet(8), val: colourSet(4, undefined, 2) };
    const norm = { mean: [0, 0, 0], std: [1, 1, 1] };
    const make = () => graft(tinyBase(), { classes: ['red', 'blue'], cut: 'top_conv', head: { dropout: 0 } });
    const cached = await withSeed(5, make);
    await trainGrafted(cached, data, { epochs: 2, unfreeze: 0, seed: 9, batchSize: 4, headInit: 'random' });
    const naive = await withSeed(5, make);
    const [x, y, xv, yv] = [
      imagesToTensor(data.train, norm),
      oneHot(data.train.labels, 2),
      imagesToTensor(data.val, norm),
      oneHot(data.val.labels, 2),
    ];
    await withSeed(9, () =>
      fitStage(naive.model, x, y, [xv, yv], { stage: 'head', epochs: 2, learningRate: 1e-3, batchSize: 4, patience: 3 }),
    );
    const a = cached.model.getLayer('head_output').getWeights()[0];
    const b = naive.model.getLayer('head_output').getWeights()[0];
    assert.ok(maxAbsDiff(a, b) < 1e-5, `max diff ${maxAbsDiff(a, b)}`);
    assert.ok(maxAbsDiff(a, (await withSeed(5, make)).model.getLayer('head_output').getWeights()[0]) > 1e-4, 'and both moved');
  });
});

describe('probe-initialised heads and unfreeze auto', () => {
  it('a linear head starts from the cross-validated probe; an MLP head is left to Adam', async () => {
    const { initHeadByProbe, PROBE_L2_GRID } = await import('../src/train/probe-head.js');
    const { fitLinearClassifier } = await import('../src/evaluate/probe.js');
    const labels = Int32Array.from({ length: 30 }, (_, i) => i % 2);
    const x = tf.tensor2d(
      Array.from({ length: 30 * 4 }, (_, t) => Math.sin(t * 1.7) + (t % 4 === 0 ? labels[Math.floor(t / 4)] : 0)),
      [30, 4],
    );
    const input = tf.input({ shape: [4] });
    const linear = tf.model({
      inputs: input,
      outputs: tf.layers
        .dense({ units: 2, activation: 'softmax', name: 'head_output' })
        .apply(tf.layers.dropout({ rate: 0.2 }).apply(input)) as tf.SymbolicTensor,
    });
    const report = await initHeadByProbe(linear, x, labels, 2, 3);
    assert.ok(report && (PROBE_L2_GRID as readonly number[]).includes(report.l2) && report.cvAccuracy > 0.5);
    const fitted = fitLinearClassifier({ data: x.dataSync() as Float32Array, rows: 30, cols: 4 }, labels, 2, { l2: report.l2 });
    const [kernel, bias] = linear.getLayer('head_output').getWeights();
    assert.deepEqual(Array.from(kernel.dataSync()), Array.from(fitted.kernel));
    assert.deepEqual(Array.from(bias.dataSync()), Array.from(fitted.bias));
    const mlp = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(tf.layers.dense({ units: 3 }).apply(input)) as tf.SymbolicTensor,
    });
    assert.equal(await initHeadByProbe(mlp, x, labels, 2), undefined);
    assert.equal(report.cached, false);

    // With a feature cache the solved probe is kept beside the features: the same features, labels
    // and seed read it back, exactly; another seed (other folds) solves again.
    const cache = new FeatureCache({ dir: tempDir('graft-probe-cache-') });
    const fresh = () =>
      tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(input) as tf.SymbolicTensor });
    const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
    const first = fresh();
    const again = fresh();
    const other = fresh();
    const solved = await initHeadByProbe(first, x, labels, 2, 3, cache);
    const read = await initHeadByProbe(again, x, labels, 2, 3, cache);
    const reseeded = await initHeadByProbe(other, x, labels, 2, 4, cache);
    assert.deepEqual([solved?.cached, read?.cached, reseeded?.cached], [false, true, false]);
    assert.deepEqual({ l2: read!.l2, cv: read!.cvAccuracy }, { l2: report.l2, cv: report.cvAccuracy });
    assert.deepEqual(weightsOf(again), weightsOf(first));
    assert.deepEqual(weightsOf(first), [Array.from(kernel.dataSync()), Array.from(bias.dataSync())]);
    x.dispose();
  });

  it('keepInitial: a stage whose epochs only get worse ends with the weights it started from', async () => {
    const input = tf.input({ shape: [3] });
    const m = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: 'zeros' }).apply(input) as tf.SymbolicTensor,
    });
    const x = tf.tensor2d([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [1, 1, 0],
    ]);
    // Validation says the opposite of training: every step towards the training labels costs validation loss.
    const y = oneHot(Int32Array.from([0, 1, 0, 1]), 2);
    const yVal = oneHot(Int32Array.from([1, 0, 1, 0]), 2);
    const start = m.getWeights().map((w) => Array.from(w.dataSync()));
    const r = await fitStage(m, x, y, [x, yVal], {
      stage: 'head',
      epochs: 3,
      learningRate: 0.1,
      batchSize: 4,
      patience: 3,
      keepInitial: true,
    });
    assert.equal(r.bestEpoch, 0);
    assert.equal(r.epochsRun, 3);
    assert.deepEqual(
      m.getWeights().map((w) => Array.from(w.dataSync())),
      start,
    );
    // Without keepInitial the best of the epochs themselves is kept: the weights moved.
    await fitStage(m, x, y, [x, yVal], { stage: 'head', epochs: 2, learningRate: 0.1, batchSize: 4, patience: 3 });
    assert.notDeepEqual(
      m.getWeights().map((w) => Array.from(w.dataSync())),
      start,
    );
    tf.dispose([x, y, yVal]);
  });

  it('unfreeze auto fine-tunes deeper from the trained head and keeps the depth with the lowest validation loss', async () => {
    const g = await graft(tinyBase(), { classes: ['red', 'blue'], cut: 'top_conv' });
    const stem = snapshot(g.model, ['stem_conv']);
    const data = { train: colourSet(12), val: colourSet(4, undefined, 2) };
    const r = await trainGrafted(g, data, { epochs: 3, unfreeze: 'auto', seed: 4, batchSize: 8 });
    const tried = r.stages.filter((s) => s.stage === 'fine-tune');
    assert.ok(tried.length >= 1);
    assert.deepEqual(
      tried.map((s) => s.blocks),
      tried.map((_, i) => i + 1),
    );
    const kept = tried.filter((s) => s.kept);
    const losses = [r.stages[0].bestValLoss, ...tried.map((s) => s.bestValLoss)];
    assert.equal(r.unfreeze, losses.indexOf(Math.min(...losses)));
    assert.equal(kept.length, r.unfreeze === 0 ? 0 : 1);
    assert.equal(r.trainableFrom, kept[0]?.trainableFrom ?? 'top_conv');
    if (r.unfreeze < 2) assert.deepEqual(snapshot(g.model, ['stem_conv']), stem, 'a deeper try that was not kept left no trace');
    // The model left behind is the kept one: its validation loss is the kept stage's best.
    const norm = g.base.normalize;
    g.model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const scores = [g.model.evaluate(imagesToTensor(data.val, norm), oneHot(data.val.labels, 2))].flat() as tf.Scalar[];
    assert.ok(Math.abs(scores[0].dataSync()[0] - Math.min(...losses)) < 1e-4, `${scores[0].dataSync()[0]} vs ${Math.min(...losses)}`);
    await disposeGrafted(g);
  });
});

describe('memory and seeds', () => {
  it('graft, staged training and disposeGrafted leave no tensors behind', async () => {
    const base = tinyBase();
    const data = { train: colourSet(6), val: colourSet(2, undefined, 2) };
    const run = async (scratch: boolean) => {
      const g = await graft(base, { classes: ['red', 'blue'], cut: 'block_1_add', scratch });
      await trainGrafted(g, data, { epochs: 2, unfreeze: 1, seed: 1, batchSize: 4 });
      await disposeGrafted(g);
    };
    await run(false); // warm-up: kernels and backend caches
    for (const scratch of [false, true]) {
      const before = tf.memory().numTensors;
      await run(scratch);
      assert.equal(tf.memory().numTensors, before, scratch ? 'scratch' : 'transfer');
    }
  });

  it('withSeed: overlapping seeded runs leave Math.random unseeded afterwards', async () => {
    const original = Math.random;
    const tick = () => new Promise((ok) => setTimeout(ok, 5));
    const [a, b] = await Promise.all([withSeed(1, async () => (await tick(), Math.random())), withSeed(2, async () => Math.random())]);
    assert.equal(typeof a, 'number');
    assert.equal(typeof b, 'number');
    assert.equal(Math.random, original);
    assert.equal(await withSeed(7, async () => Math.random()), await withSeed(7, async () => Math.random()));
  });
});

describe('heads', () => {
  it('parses linear and mlp heads and rejects bad ones as usage errors', () => {
    const fallback = { kind: 'linear' as const, dropout: 0.2, pool: 'avg' as const };
    assert.deepEqual(parseHead('mlp:256,64', fallback).units, [256, 64]);
    assert.equal(parseHead('linear', fallback).kind, 'linear');
    for (const bad of ['mlp:abc', 'mlp:0', 'linear:5', 'conv', 'mlp:1.5']) {
      assert.throws(
        () => parseHead(bad, fallback),
        (e: unknown) => e instanceof GraftError && e.exitCode === 2,
        bad,
      );
    }
  });
});

describe('metrics', () => {
  it('matches a hand-computed confusion matrix, per-class precision/recall and macro-F1', () => {
    // truth:     a a a b b c
    // predicted: a a b b c c
    const m = classificationMetrics([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ['a', 'b', 'c']);
    assert.deepEqual(m.confusion, [
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    assert.equal(m.accuracy, 4 / 6);
    const [a, b, c] = m.perClass;
    assert.deepEqual([a.precision, a.recall], [1, 2 / 3]);
    assert.deepEqual([b.precision, b.recall], [1 / 2, 1 / 2]);
    assert.deepEqual([c.precision, c.recall], [1 / 2, 1]);
    const f1 = (p: number, r: number) => (2 * p * r) / (p + r);
    assert.ok(Math.abs(m.macroF1 - (f1(1, 2 / 3) + f1(0.5, 0.5) + f1(0.5, 1)) / 3) < 1e-12);
  });
});

describe('library one-call path', () => {
  it('trainImageClassifier grafts, trains in stages and evaluates val and test', async () => {
    const { trainImageClassifier } = await import('../src/index.js');
    const data = { train: colourSet(10), val: colourSet(4, undefined, 2), test: colourSet(6, undefined, 3) };
    const r = await trainImageClassifier({ base: tinyBase(), data, seed: 2, epochs: 3 });
    assert.deepEqual(r.counts, { train: 20, val: 8, test: 12 });
    // cut auto: the block output with the best LogME, reported with the ranking it came from.
    assert.equal(r.model.grafted!.cut, r.cutChoice!.ranking[0].cut);
    assert.deepEqual(r.cutChoice!.ranking.map((x) => x.cut).sort(), ['block_1_add', 'stem_relu', 'top_conv']);
    assert.equal(
      (await trainImageClassifier({ base: tinyBase(), data, seed: 2, epochs: 1, cut: 'top_conv' })).cutChoice,
      undefined,
      'an explicit cut is kept',
    );
    assert.deepEqual(
      r.training.stages.map((s) => s.stage),
      ['head', 'fine-tune'],
    );
    assert.equal(r.metrics.test.n, 12);
    assert.equal(
      r.metrics.test.confusion.flat().reduce((a, b) => a + b, 0),
      12,
    );
  });
});

describe('loading bases', () => {
  it('loads a LayersModel from a URL (served on loopback) with its structure read from the graph', async () => {
    const { createServer } = await import('node:http');
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { loadBase } = await import('../src/bases/index.js');
    const { saveTinyBase, tempDir } = await import('./helpers.js');
    const dir = tempDir();
    await saveTinyBase(dir);
    const server = createServer((req, res) => {
      readFile(join(dir, (req.url ?? '/').slice(1))).then(
        (body) => res.end(body),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const { port } = server.address() as { port: number };
      const base = await loadBase(`http://127.0.0.1:${port}/model.json`);
      assert.equal(base.kind, 'layers');
      assert.deepEqual(base.input, { height: 16, width: 16, channels: 3 });
      assert.equal(base.suggestedCut, 'top_conv');
      const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 3);
      assert.ok(maxAbsDiff(base.model!.predict(x) as tf.Tensor, tinyModel().predict(x) as tf.Tensor) < 1e-6, 'same weights as served');
    } finally {
      server.close();
    }
  });
});
