import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { cutPoints } from '../src/bases/structure.js';
import { pooledFeatures, rankCandidates, rankCuts } from '../src/evaluate/rank.js';
import { modelBelow } from '../src/graft/split.js';
import { imagesToTensor } from '../src/engine/tensors.js';
import type { ImageSet } from '../src/data/types.js';
import { mulberry32 } from '../src/math/random.js';
import { loadImageBase } from '../src/bases/index.js';
import { colourSet, tempDir, tinyBase } from './helpers.js';
import { saveTinyOnnx, tfjsFeatures } from './onnx-fixture.js';

before(async () => {
  await useBackend('wasm');
});

describe('ranking cuts', () => {
  it('blocks: the output of each block that is a cut point, up to the suggested cut; all: every cut point', () => {
    const base = tinyBase();
    const blocks = rankCandidates(base, 'blocks');
    assert.deepEqual(blocks, ['stem_relu', 'block_1_add', 'top_conv']);
    const points = cutPoints(base.model!);
    assert.ok(blocks.every((c) => points.has(base.model!.layers.findIndex((l) => l.name === c))));
    assert.equal(rankCandidates(base, 'all').length, points.size);
  });

  it('pools every cut (and the source classifier) in one pass, equal to TF.js global average pooling', async () => {
    const base = tinyBase();
    const set = colourSet(5);
    const features = await pooledFeatures(base, set, ['stem_relu', 'top_conv'], { source: 'classifier', batchSize: 4 });
    const x = imagesToTensor(set, base.normalize);
    for (const cut of ['stem_relu', 'top_conv']) {
      const ref = tf.tidy(() => tf.mean(modelBelow(base.model!, cut).predict(x) as tf.Tensor, [1, 2]));
      const got = features.get(cut)!;
      assert.equal(got.rows, 10);
      assert.equal(got.cols, ref.shape[1]);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.tensor2d(got.data, [got.rows, got.cols]), ref))).dataSync()[0]);
      assert.ok(diff < 1e-5, `${cut}: ${diff}`);
      ref.dispose();
    }
    const probs = features.get('classifier')!;
    assert.equal(probs.cols, 3);
    for (let i = 0; i < probs.rows; i++) assert.ok(Math.abs(probs.data.subarray(i * 3, i * 3 + 3).reduce((a, b) => a + b, 0) - 1) < 1e-5);
    x.dispose();
  });

  it("scores and sorts by LogME; LEEP comes from the base's own softmax classifier", async () => {
    const r = await rankCuts(tinyBase(), colourSet(8), { probe: true, seed: 1 });
    assert.equal(r.rows.length, 3);
    assert.ok(r.rows.every((x, i) => i === 0 || x.logme <= r.rows[i - 1].logme));
    assert.ok(r.rows.every((x) => Number.isFinite(x.hScore) && x.probe! >= 0 && x.probe! <= 1));
    assert.ok(r.leep !== undefined && r.leep < 0 && r.leep > Math.log(1 / 3) - 1e-6, `LEEP ${r.leep} in [log(1/k), 0)`);
  });
});

describe('negative transfer check', () => {
  /** 16x16 images: a one-pixel checkerboard or a flat grey of the same mean, with noise. */
  function textureSet(perClass: number): ImageSet {
    const rand = mulberry32(3);
    const n = perClass * 2;
    const per = 16 * 16 * 3;
    const pixels = new Uint8Array(n * per);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 2;
      for (let p = 0; p < 16 * 16; p++) {
        const [y, x] = [Math.floor(p / 16), p % 16];
        const v = labels[i] === 0 ? ((x + y) % 2 ? 200 : 50) : 125;
        for (let c = 0; c < 3; c++) pixels[i * per + p * 3 + c] = Math.max(0, Math.min(255, Math.round(v + 30 * (rand() - 0.5))));
      }
    }
    return {
      classes: ['checker', 'flat'],
      size: { height: 16, width: 16, channels: 3 },
      pixels,
      labels,
      ids: Array.from({ length: n }, (_, i) => `t${i}`),
    };
  }

  it('flags a base whose features read colours no better than the pixels do', async () => {
    const r = await rankCuts(tinyBase(), colourSet(10), { baseline: true, seed: 1 });
    assert.ok(r.baseline!.pixelsProbe >= 0.95, `colours are on the pixels: ${r.baseline!.pixelsProbe}`);
    assert.equal(r.baseline!.negative, true);
  });

  it('does not flag features that see texture the coarse pixel grid averages away', async () => {
    const r = await rankCuts(tinyBase(), textureSet(12), { baseline: true, seed: 1 });
    assert.ok(r.baseline!.pixelsProbe <= 0.75, `pixels at ${r.baseline!.pixelsProbe}`);
    assert.ok(r.baseline!.probe >= r.baseline!.pixelsProbe + 0.2, `features ${r.baseline!.probe} vs pixels ${r.baseline!.pixelsProbe}`);
    assert.equal(r.baseline!.negative, false);
  });
});

describe('ranking on every engine and kind of base', () => {
  it("--cuts all includes the classifier, which is also LEEP's source, once", async () => {
    const r = await rankCuts(tinyBase(), colourSet(6), { cuts: 'all', seed: 1 });
    assert.equal(r.rows.length, cutPoints(tinyBase().model!).size);
    assert.ok(r.rows.some((x) => x.cut === 'classifier') && r.leep !== undefined);
  });

  it('TF.js gives the features ONNX Runtime gives', async () => {
    const base = tinyBase();
    const set = colourSet(4);
    const [onnx, tfjs] = [
      await pooledFeatures(base, set, ['block_1_add']),
      await pooledFeatures(base, set, ['block_1_add'], { engine: 'tfjs' }),
    ];
    const [a, b] = [onnx.get('block_1_add')!.data, tfjs.get('block_1_add')!.data];
    assert.equal(a.length, b.length);
    assert.ok(a.every((v, i) => Math.abs(v - b[i]) < 1e-5));
  });

  it('pools an NCHW ONNX base over its spatial axes, and leaves non-feature tensors out', async () => {
    const base = await loadImageBase(`onnx:${saveTinyOnnx(tempDir())}`);
    const set = colourSet(3);
    const features = await pooledFeatures(base, set, ['features', 'flat']);
    const x = imagesToTensor(set, base.normalize);
    const { features: maps, pooled } = tfjsFeatures(x as tf.Tensor4D);
    const ref = await pooled.data();
    for (const cut of ['features', 'flat']) {
      const got = features.get(cut)!;
      assert.equal(got.cols, 4);
      assert.ok(
        got.data.every((v, i) => Math.abs(v - ref[i]) < 1e-5),
        cut,
      );
    }
    tf.dispose([x, maps, pooled]);
  });
});
