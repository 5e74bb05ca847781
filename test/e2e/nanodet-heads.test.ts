// nanodet's heads joined at stride 16 (the cut a detection head sits on) and the COCO head start:
// the join holds each level's map pooled or repeated, exactly as computed apart; a head whose
// class starts from COCO's person answers, before any training, NanoDet's own person score (its
// best level at each cell) within 1e-4; the CLI's --head-start refuses what it cannot do.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../src/backend/index.js';
import { createOnnxSession } from '../../src/backend/onnx-runtime.js';
import { loadImageBase } from '../../src/bases/index.js';
import { NANODET_HEAD_JOIN, NANODET_HEADS, NANODET_OUTPUTS } from '../../src/bases/image/nanodet.js';
import type { OnnxBase } from '../../src/bases/types.js';
import { disposeDetector, graftDetector } from '../../src/graft/detect.js';
import { pruneToCut } from '../../src/onnx/prune.js';

const SIZE = 416;
const CHANNELS = 128;

/** A smooth, busy picture (pixels / 255, NCHW): gradients, a disc and a stripe pattern. */
function picture(): Float32Array {
  const x = new Float32Array(3 * SIZE * SIZE);
  for (let y = 0; y < SIZE; y++)
    for (let c = 0; c < SIZE; c++) {
      const i = y * SIZE + c;
      const disc = (y - 220) ** 2 + (c - 260) ** 2 < 70 ** 2 ? 0.5 : 0;
      x[i] = Math.min(1, c / SIZE + disc);
      x[SIZE * SIZE + i] = y / SIZE;
      x[2 * SIZE * SIZE + i] = 0.5 + 0.4 * Math.sin((y - c) / 17);
    }
  return x;
}

/** An NCHW map [1, C, g, g] at `from` cells per side, at `to` cells per side: 2x2 means down, repeats up. */
function resample(map: Float32Array, channels: number, from: number, to: number): Float32Array {
  const out = new Float32Array(channels * to * to);
  const r = from / to;
  for (let c = 0; c < channels; c++)
    for (let y = 0; y < to; y++)
      for (let x = 0; x < to; x++) {
        let v: number;
        if (r >= 1) {
          v = 0;
          for (let dy = 0; dy < r; dy++) for (let dx = 0; dx < r; dx++) v += map[c * from * from + (y * r + dy) * from + x * r + dx];
          v /= r * r;
        } else v = map[c * from * from + Math.floor(y * r) * from + Math.floor(x * r)];
        out[c * to * to + y * to + x] = v;
      }
  return out;
}

describe('nanodet: heads joined at stride 16, and the COCO head start', () => {
  let base: OnnxBase;
  const data = picture();
  before(async () => {
    await useBackend('wasm');
    base = (await loadImageBase('nanodet')) as OnnxBase;
  });

  test('the join is each level pooled or repeated to 26x26, in its order', async () => {
    const names = [NANODET_HEAD_JOIN.name, ...NANODET_HEADS.map((h) => h.map)];
    // The join and the maps are not the model's outputs: the model pruned to them has them as its outputs.
    const session = await createOnnxSession(pruneToCut(base.onnx.bytes, names));
    try {
      const got = await session.run({ input_1: { type: 'float32', data, dims: [1, 3, SIZE, SIZE] } }, names);
      const join = got.get(NANODET_HEAD_JOIN.name)!;
      assert.deepEqual(join.dims, [1, 3 * CHANNELS, 26, 26]);
      let worst = 0;
      NANODET_HEADS.forEach((h, i) => {
        const want = resample(got.get(h.map)!.data as Float32Array, CHANNELS, SIZE / h.stride, 26);
        const part = join.data.subarray(i * CHANNELS * 26 * 26, (i + 1) * CHANNELS * 26 * 26);
        for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(want[k] - part[k]));
      });
      assert.ok(worst < 1e-5, `max difference ${worst}`);
    } finally {
      await session.release();
    }
  });

  test("a class started from person answers NanoDet's own person score at first (the best of its levels), within 1e-4", async () => {
    const g = await graftDetector(base, { classes: ['box', 'pedestrian'], headStart: { pedestrian: 'person' } });
    const session = await createOnnxSession(base.onnx.bytes);
    try {
      assert.equal(g.cut, NANODET_HEAD_JOIN.name);
      const features = await g.trunk!.predictRaw!(
        // The trunk takes NHWC pixels.
        (() => {
          const nhwc = new Float32Array(data.length);
          for (let i = 0; i < SIZE * SIZE; i++) for (let c = 0; c < 3; c++) nhwc[i * 3 + c] = data[c * SIZE * SIZE + i];
          return nhwc;
        })(),
        [1, SIZE, SIZE, 3],
      );
      const grid = tf.tidy(() => (g.model.predict(tf.tensor(features.data, features.dims)) as tf.Tensor).dataSync());
      // NanoDet's scores per level, [1, cells, 80] (sigmoid); person is class 0.
      const scores = await session.run(
        { input_1: { type: 'float32', data, dims: [1, 3, SIZE, SIZE] } },
        NANODET_HEADS.map((h) => NANODET_OUTPUTS.scores[h.stride]),
      );
      const logits = NANODET_HEADS.map((h) => {
        const s = scores.get(NANODET_OUTPUTS.scores[h.stride])!.data as Float32Array;
        const cells = SIZE / h.stride;
        const person = Float32Array.from({ length: cells * cells }, (_, i) => Math.log(s[i * 80] / (1 - s[i * 80])));
        return resample(person, 1, cells, 26);
      });
      const depth = 2 + 4;
      let worst = 0;
      let other = 0;
      for (let i = 0; i < 26 * 26; i++) {
        const want = 1 / (1 + Math.exp(-Math.max(...logits.map((l) => l[i]))));
        worst = Math.max(worst, Math.abs(grid[i * depth + 1] - want));
        other = Math.max(other, Math.abs(grid[i * depth] - want));
      }
      assert.ok(worst < 1e-4, `pedestrian vs NanoDet's person: max difference ${worst}`);
      assert.ok(other > 0.05, 'the class that did not start from person answers something else');
    } finally {
      await session.release();
      await disposeDetector(g);
    }
  });

  test('a head start is refused where it cannot be: a class or base class unknown, another cut, a base that is no detector', async () => {
    await assert.rejects(graftDetector(base, { classes: ['pedestrian'], headStart: { walker: 'person' } }), /not a class of the data/);
    await assert.rejects(
      graftDetector(base, { classes: ['pedestrian'], headStart: { pedestrian: 'pedestrian' } }),
      /has no class "pedestrian"/,
    );
    await assert.rejects(graftDetector(base, { classes: ['pedestrian'], headStart: 'matching' }), /found no class/);
    await assert.rejects(
      graftDetector(base, { classes: ['person'], headStart: 'matching', cut: 'PartitionedCall/onnx_tf_prefix_Add_128' }),
      /leave --cut at auto/,
    );
    const mobilenet = await loadImageBase('mobilenet_v2');
    await assert.rejects(graftDetector(mobilenet, { classes: ['person'], headStart: 'matching' }), /not a detector/);
  });
});
