// The detection head's pieces checked by hand: CenterNet targets, its loss against the formula
// computed in plain loops, decoding a grid to boxes, and the graft's shape and stride.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { layersBase } from '../src/bases/image/tfjs.js';
import { decodeGrid } from '../src/evaluate/detection-decode.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { graftDetector } from '../src/graft/detect.js';
import { Detector } from '../src/kinds/detection.js';
import { loadModel } from '../src/kinds/index.js';
import { detectionLoss } from '../src/train/detection-loss.js';
import { encodeTargets, gaussianRadius, targetDepth } from '../src/train/detection-targets.js';
import { stridedModel, tempDir } from './helpers.js';

await useBackend('cpu');

test('targets: a peak of 1 at the centre cell, log-size and offset there, the mask set; ignored objects are not targets', () => {
  const grid = { classes: 2, stride: 16, gridH: 4, gridW: 4 };
  const t = encodeTargets(
    [
      { label: 1, box: [20, 8, 32, 16], ignore: false },
      { label: 0, box: [0, 0, 40, 40], ignore: true },
    ],
    grid,
  );
  const depth = targetDepth(2);
  // centre (36, 16) / 16 = (2.25, 1): cell x 2, y 1
  const at = (y: number, x: number, k: number) => t[(y * 4 + x) * depth + k];
  assert.equal(at(1, 2, 1), 1);
  assert.ok(Math.abs(at(1, 2, 2) - Math.log(2)) < 1e-6, 'log(32 / 16)');
  assert.ok(Math.abs(at(1, 2, 3) - Math.log(1)) < 1e-6, 'log(16 / 16)');
  assert.ok(Math.abs(at(1, 2, 4) - 0.25) < 1e-6);
  assert.ok(Math.abs(at(1, 2, 5) - 0) < 1e-6);
  assert.equal(at(1, 2, 6), 1, 'centre mask');
  assert.equal(at(1, 2, 7), 1, 'full size weight at the centre');
  let masked = 0;
  let class0 = 0;
  for (let c = 0; c < 16; c++) {
    masked += t[c * depth + 6];
    class0 += t[c * depth];
  }
  assert.equal(masked, 1, 'one object, one centre');
  assert.equal(class0, 0, 'the ignored object leaves its class empty');
});

test("targets: a large object's Gaussian spreads to its neighbours below 1", () => {
  // CenterNet's gaussian_radius((6, 6), 0.7): the third case, (-16.8 + sqrt(16.8² + 4·2.8·10.8)) / 2
  const r = gaussianRadius(6, 6);
  assert.ok(Math.abs(r - (-16.8 + Math.sqrt(16.8 ** 2 + 4 * 2.8 * 10.8)) / 2) < 1e-9, `radius ${r}`);
  const t = encodeTargets([{ label: 0, box: [16, 16, 96, 96], ignore: false }], { classes: 1, stride: 16, gridH: 8, gridW: 8 });
  const depth = targetDepth(1);
  const centre = (4 * 8 + 4) * depth;
  const beside = (4 * 8 + 5) * depth;
  assert.equal(t[centre], 1);
  assert.ok(t[beside] > 0 && t[beside] < 1, `neighbour ${t[beside]}`);
  // The neighbour regresses the same size, weighted by its Gaussian value; the offset is the centre's alone.
  assert.ok(Math.abs(t[beside + 1] - Math.log(6)) < 1e-6);
  assert.equal(t[beside + 6], t[beside]);
  assert.equal(t[beside + 5], 0);
});

test('loss: equals the focal and weighted L1 terms computed in plain loops', () => {
  const classes = 1;
  const [n, h, w] = [2, 2, 2];
  const predVals = [0.9, 0.1, -0.2, 0.3, 0.6, 0.2, 0.3, 0.1, 0.5, 0.5, 0.4, 0.2, 0.1, 0.7, 0.6, 0.4, 0.5, 0.5, 0.8, 0.3];
  const pred = new Float32Array(n * h * w * (classes + 4)).map((_, i) => predVals[i % predVals.length]);
  const d = targetDepth(classes);
  const target = new Float32Array(n * h * w * d);
  // image 0: an object centred in cell (0,0); image 1: one in cell (1,1), its Gaussian 0.5 on cell (1,0)
  target.set([1, 0.5, 0, 0.3, 0.2, 1, 1], 0);
  target.set([1, -0.1, 0.7, 0.6, 1, 1, 1], (1 * 4 + 3) * d);
  target.set([0.5, -0.1, 0.7, 0, 0, 0, 0.5], (1 * 4 + 2) * d);
  let focal = 0;
  let size = 0;
  let sizeWeights = 0;
  let offset = 0;
  let objects = 0;
  for (let cell = 0; cell < n * h * w; cell++) {
    const p = Math.min(1 - 1e-4, Math.max(1e-4, pred[cell * 5]));
    const t = target.subarray(cell * d, (cell + 1) * d);
    focal += t[0] === 1 ? -Math.log(p) * (1 - p) ** 2 : -Math.log(1 - p) * p ** 2 * (1 - t[0]) ** 4;
    size += t[6] * (Math.abs(pred[cell * 5 + 1] - t[1]) + Math.abs(pred[cell * 5 + 2] - t[2]));
    sizeWeights += t[6];
    if (t[5]) {
      objects++;
      offset += Math.abs(pred[cell * 5 + 3] - t[3]) + Math.abs(pred[cell * 5 + 4] - t[4]);
    }
  }
  const expected = focal / objects + size / sizeWeights + offset / objects;
  const got = detectionLoss(tf.tensor4d(pred, [n, h, w, 5]), tf.tensor4d(target, [n, h, w, d]), classes).dataSync()[0];
  assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
});

test('decode: a 3x3 peak becomes its box; its weaker neighbours and scores under the threshold do not', () => {
  const [gh, gw, classes, stride] = [4, 5, 2, 8];
  const depth = classes + 4;
  const grid = new Float32Array(gh * gw * depth);
  const set = (y: number, x: number, values: number[]) => grid.set(values, (y * gw + x) * depth);
  set(1, 2, [0.9, 0, Math.log(4), Math.log(2), 0.5, 0.25]);
  set(1, 3, [0.6, 0, 0, 0, 0.5, 0.5]); // a neighbour of the peak: not a detection
  set(3, 0, [0, 0.4, 0, 0, 0.5, 0.5]); // another class, a peak of its own
  set(3, 4, [0.05, 0, 0, 0, 0.5, 0.5]); // under the threshold
  const dets = decodeGrid(grid, gh, gw, { classes, stride, threshold: 0.1 });
  assert.equal(dets.length, 2);
  // centre ((2 + 0.5) * 8, (1 + 0.25) * 8) = (20, 10), size 32 x 16
  const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 1e-5);
  assert.equal(dets[0].label, 0);
  assert.ok(near(dets[0].box, [4, 2, 32, 16]), `box ${dets[0].box}`);
  assert.ok(Math.abs(dets[0].score - 0.9) < 1e-6);
  assert.equal(dets[1].label, 1);
  assert.ok(near(dets[1].box, [0, 24, 8, 8]), `box ${dets[1].box}`);
});

test('graft: auto cuts at the last stride-16 map, the output is a (H/16)x(W/16)x(C+4) grid, scratch has fresh weights', async () => {
  const base = layersBase('strided', stridedModel());
  const g = await graftDetector(base, { classes: ['a', 'b'], inputSize: { height: 64, width: 96 } });
  assert.equal(g.stride, 16);
  assert.equal(g.cut, 's16_relu');
  const y = g.model.predict(tf.zeros([1, 64, 96, 3])) as tf.Tensor;
  assert.deepEqual(y.shape, [1, 4, 6, 6]);
  const kept = g.model.getLayer('s16_conv').getWeights()[0].dataSync();
  assert.deepEqual(
    Array.from(kept),
    Array.from(base.model.getLayer('s16_conv').getWeights()[0].dataSync()),
    'the trunk keeps the base weights',
  );
  const s = await graftDetector(base, { classes: ['a'], scratch: true, inputSize: { height: 64, width: 64 } });
  const fresh = s.model.getLayer('s16_conv').getWeights()[0].dataSync();
  assert.notDeepEqual(Array.from(fresh), Array.from(kept));
  await assert.rejects(graftDetector(base, { classes: ['a'], inputSize: { height: 50, width: 64 } }), /multiples of 32/);
  tf.dispose(y);
});

test('a detector directory written before graft.json had `trunk` loads as a whole LayersModel and predicts as it did', async () => {
  const g = await graftDetector(layersBase('strided', stridedModel()), { classes: ['a'], inputSize: { height: 64, width: 64 } });
  const dir = join(tempDir('graft-old-detector-'), 'model');
  await Detector.fromGrafted(g).save(dir);
  const json = JSON.parse(readFileSync(join(dir, 'graft.json'), 'utf8'));
  assert.equal(json.trunk, null);
  delete json.trunk;
  writeFileSync(join(dir, 'graft.json'), JSON.stringify(json));
  const bytes = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 90, b: 10 } } })
    .png()
    .toBuffer();
  const [fresh] = await Detector.fromGrafted(g).predict([{ bytes }], { threshold: 0 });
  const old = await loadModel(dir);
  try {
    assert.ok(old instanceof Detector);
    assert.equal(old.meta.trunk, null);
    assert.doesNotMatch(old.describe().summary, /trunk/);
    assert.deepEqual(await old.predict([{ bytes }], { threshold: 0 }), [fresh]);
  } finally {
    await old.dispose();
    g.model.dispose();
  }
});
