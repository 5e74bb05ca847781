// A detector predicts as one ONNX graph on ONNX Runtime (its own export: the layers model NHWC,
// or a frozen base's trunk and the head joined, NCHW for nanodet): the grid it computes equals
// TF.js's trunk-then-head pipeline's within 1e-4, and the boxes predict prints are those decoded
// from TF.js's grid. A model without an ONNX export falls back to TF.js and says so.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../src/backend/index.js';
import { loadImageBase } from '../../src/bases/index.js';
import { layersBase } from '../../src/bases/image/tfjs.js';
import { placedImages, type PlacedSet } from '../../src/data/detection/placed.js';
import { imagesToTensor } from '../../src/engine/tensors.js';
import { decodeGrids, toOriginal } from '../../src/evaluate/detection-decode.js';
import { graftDetector, type GraftedDetector } from '../../src/graft/detect.js';
import { pipeline } from '../../src/graft/graft.js';
import { decodedSet, Detector } from '../../src/kinds/detection.js';
import { loadModel } from '../../src/kinds/index.js';
import { mulberry32 } from '../../src/math/random.js';
import { fileHandler } from '../../src/io/layers-files.js';
import { stridedModel, tempDir } from '../helpers.js';

await useBackend('cpu');

/**
 * Noise with a coloured rectangle, as PNG bytes, at the detector's 3:2 aspect: letterboxing adds no
 * padding, whose identical cells would tie in the 3x3 peak search and leave the winner to rounding.
 */
async function pictures(): Promise<Uint8Array[]> {
  const rand = mulberry32(11);
  const shapes: [number, number][] = [
    [96, 64],
    [192, 128],
    [48, 32],
  ];
  return Promise.all(
    shapes.map(async ([width, height], i) => {
      const px = Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rand() * 256));
      for (let r = 4 + i; r < height / 2 + i; r++)
        for (let c = 6 + 2 * i; c < width / 2; c++) px.set([240, 120 + 40 * i, 20], (r * width + c) * 3);
      return new Uint8Array(
        await sharp(px, { raw: { width, height, channels: 3 } })
          .png()
          .toBuffer(),
      );
    }),
  );
}

type Engine = { name: string; grids(x: Float32Array, n: number): Promise<Float32Array> };

/** The detector's placed images, its own grids and TF.js's (the head, after the graft's trunk when there is one). */
async function bothGrids(model: Detector, g: GraftedDetector, inputs: Uint8Array[]) {
  const decoded = await Promise.all(inputs.map((bytes, i) => model.decode({ bytes }, i)));
  const set = decodedSet(decoded, model.meta);
  const x = imagesToTensor(placedImages(set), model.meta.normalize);
  const y = await pipeline({ model: g.model, trunk: g.trunk }).predict(x);
  const expected = (await y.data()) as Float32Array;
  const engine = await (model['gridEngine'] as () => Promise<Engine>).call(model);
  const got = await engine.grids((await x.data()) as Float32Array, decoded.length);
  tf.dispose([x, y]);
  return { set, expected, got, engine: engine.name };
}

const worst = (a: Float32Array, b: Float32Array) => {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
};

/** predict's boxes at threshold 0 (every peak) are those decoded from `grids` (TF.js's) into each image's pixels. */
async function assertBoxesOf(model: Detector, inputs: Uint8Array[], set: PlacedSet, grids: Float32Array) {
  const { labels, input, decoding } = model.meta;
  const o = { classes: labels.length, stride: decoding.stride, threshold: 0, topK: 100, nmsIou: decoding.nmsIou };
  const [gridH, gridW] = [input.height / decoding.stride, input.width / decoding.stride];
  const reference = decodeGrids(grids, inputs.length, gridH, gridW, o).map((d, i) =>
    toOriginal(d, set.placed[i].placement, set.placed[i].sample),
  );
  const predicted = await model.predict(
    inputs.map((bytes) => ({ bytes })),
    { threshold: 0 },
  );
  predicted.forEach((p, i) => {
    assert.ok(p.boxes.length > 0 && p.boxes.length === reference[i].length, `image ${i}: ${p.boxes.length} vs ${reference[i].length}`);
    p.boxes.forEach((b, k) => {
      const r = reference[i][k];
      assert.equal(b.label, labels[r.label]);
      assert.ok(Math.abs(b.score - r.score) < 1e-4, `score ${b.score} vs ${r.score}`);
      b.box.forEach((v, j) => assert.ok(Math.abs(v - r.box[j]) <= 0.051, `box ${b.box} vs ${r.box}`));
    });
  });
}

/** Random weights (BatchNorm variances near 1): an untrained head's heatmap is nearly flat, its peaks decided by rounding. */
function randomWeights(model: tf.LayersModel, seed: number): void {
  const rand = mulberry32(seed);
  model.setWeights(
    model.weights.map((w) => {
      const values = Float32Array.from({ length: w.shape.reduce((a: number, b) => a * (b ?? 1), 1) }, () => rand() - 0.5);
      return tf.tensor(w.name.includes('variance') ? values.map((v) => 1 + v) : values, w.shape as number[]);
    }),
  );
}

test('a detector on a LayersModel base: its ONNX Runtime grid is TF.js’s within 1e-4, predict gives TF.js’s boxes, a batch answers as its images alone', async () => {
  const g = await graftDetector(layersBase('strided', stridedModel()), { classes: ['a', 'b'], inputSize: { height: 64, width: 96 } });
  randomWeights(g.model, 5);
  const dir = join(tempDir('graft-det-ort-'), 'model');
  await Detector.fromGrafted(g).save(dir);
  const inputs = await pictures();
  const model = await loadModel(dir);
  try {
    assert.ok(model instanceof Detector);
    assert.match(model.describe().summary, /predicts as one ONNX graph on ONNX Runtime \(TF\.js where it does not load\)$/);
    const { set, expected, got, engine } = await bothGrids(model, g, inputs);
    assert.equal(engine, 'ONNX Runtime');
    assert.equal(got.length, inputs.length * 4 * 6 * 6);
    const diff = worst(got, expected);
    assert.ok(diff < 1e-4, `largest difference ${diff}`);
    assert.match(model.describe().summary, /predicts as one ONNX graph on ONNX Runtime$/);
    await assertBoxesOf(model, inputs, set, expected);
    // A server's batch (one predictDecoded of several images) answers what each image alone does.
    const decoded = await Promise.all(inputs.map((bytes, i) => model.decode({ bytes, name: `p${i}` }, i)));
    const batch = await model.predictDecoded(decoded, { threshold: 0.05 });
    for (const [i, d] of decoded.entries()) assert.deepEqual([batch[i]], await model.predictDecoded([d], { threshold: 0.05 }));
  } finally {
    await model.dispose();
    g.model.dispose();
  }
});

test('a detector on nanodet: trunk and head joined, fed NCHW, give the grid of the trunk then the head within 1e-4', async () => {
  const base = await loadImageBase('nanodet');
  const g = await graftDetector(base, { classes: ['thing'] });
  const model = Detector.fromGrafted(g);
  try {
    const { got, expected, engine } = await bothGrids(model, g, (await pictures()).slice(0, 2));
    assert.equal(engine, 'ONNX Runtime');
    assert.equal(got.length, 2 * 26 * 26 * 5);
    const diff = worst(got, expected);
    assert.ok(diff < 1e-4, `largest difference ${diff}`);
  } finally {
    await model.dispose();
  }
});

test('a detector whose model does not export to ONNX predicts in TF.js, says so, and finds the boxes of its TF.js grid', async () => {
  const g = await graftDetector(layersBase('strided', stridedModel()), { classes: ['a', 'b'], inputSize: { height: 64, width: 96 } });
  const dir = join(tempDir('graft-det-tfjs-'), 'model');
  await Detector.fromGrafted(g).save(dir);
  g.model.dispose();
  // The same graft.json over a model with an UpSampling2D, which graft's ONNX exporter lacks: a stride-32 map doubled to the 4x6 grid.
  const image = tf.input({ shape: [64, 96, 3] });
  const coarse = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 32, padding: 'same', activation: 'sigmoid' }).apply(image);
  const grid = tf.layers.upSampling2d({ size: [2, 2] }).apply(coarse) as tf.SymbolicTensor;
  const unexportable = tf.model({ inputs: image, outputs: grid });
  randomWeights(unexportable, 9);
  await unexportable.save(fileHandler(join(dir, 'model.json')));
  const inputs = await pictures();
  const model = await loadModel(dir);
  try {
    assert.ok(model instanceof Detector);
    const decoded = await Promise.all(inputs.map((bytes, i) => model.decode({ bytes }, i)));
    const set = decodedSet(decoded, model.meta);
    const x = imagesToTensor(placedImages(set), model.meta.normalize);
    const expected = (unexportable.predict(x) as tf.Tensor).dataSync() as Float32Array;
    await assertBoxesOf(model, inputs, set, expected);
    assert.match(model.describe().summary, /predicts on TF\.js \(no ONNX export: cannot export layer .* \(UpSampling2D\)/);
    tf.dispose(x);
  } finally {
    await model.dispose();
    unexportable.dispose();
  }
});
