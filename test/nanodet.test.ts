// The nanodet base: the vendored TF.js graph model converted to ONNX computes what TF.js computes
// (every output within 1e-4 on one image), and offers the PAN's three maps and its heads' maps
// joined at stride 16 as its cuts (the join's numbers: test/e2e/nanodet-heads.test.ts).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { createOnnxSession } from '../src/backend/onnx-runtime.js';
import { loadImageBase } from '../src/bases/index.js';
import { NANODET_CUTS, NANODET_DIR, NANODET_HEAD_JOIN, NANODET_OUTPUTS } from '../src/bases/image/nanodet.js';
import type { OnnxBase } from '../src/bases/types.js';
import { fileHandler } from '../src/io/layers-files.js';

const SIZE = 416;

/** One smooth, busy picture: gradients and a bright disc, pixels / 255 as the base normalises them, NCHW. */
function picture(): Float32Array {
  const x = new Float32Array(3 * SIZE * SIZE);
  for (let y = 0; y < SIZE; y++)
    for (let c = 0; c < SIZE; c++) {
      const disc = (y - 200) ** 2 + (c - 150) ** 2 < 60 ** 2 ? 0.6 : 0;
      const i = y * SIZE + c;
      x[i] = Math.min(1, c / SIZE + disc);
      x[SIZE * SIZE + i] = y / SIZE;
      x[2 * SIZE * SIZE + i] = 0.5 + 0.4 * Math.sin((y + c) / 23);
    }
  return x;
}

describe('nanodet base', () => {
  let base: OnnxBase;
  before(async () => {
    await useBackend('wasm');
    const b = await loadImageBase('nanodet');
    assert.equal(b.kind, 'onnx');
    base = b as OnnxBase;
  });
  test("is an ONNX base whose cuts are the graph nodes, the PAN maps and the heads' join ranked", () => {
    assert.deepEqual(base.input, { height: SIZE, width: SIZE, channels: 3 });
    assert.equal(base.onnx.layout, 'nchw');
    assert.equal(base.suggestedCut, NANODET_HEAD_JOIN.name);
    assert.deepEqual(base.onnx.blockCuts, [...Object.values(NANODET_CUTS), NANODET_HEAD_JOIN.name]);
    assert.ok(base.onnx.tensors.includes(NANODET_HEAD_JOIN.name));
    for (const cut of Object.values(NANODET_CUTS)) assert.ok(base.onnx.tensors.includes(cut), cut);
    assert.equal(base.onnx.ops.get(NANODET_CUTS.stride8), 'Add');
    assert.match(base.provenance, /Apache-2\.0.*MIT/);
  });

  test('computes every output as TF.js does, within 1e-4, and its cuts are NHWC maps at strides 8, 16, 32', async (t) => {
    const graph = await tf.loadGraphModel(fileHandler(join(NANODET_DIR, 'model.json')));
    const data = picture();
    const x = tf.tensor(data, [1, 3, SIZE, SIZE]);
    const names = [...Object.values(NANODET_OUTPUTS.scores), ...Object.values(NANODET_OUTPUTS.boxes)];
    const want = graph.execute(x, names) as tf.Tensor[];
    const session = await createOnnxSession(base.onnx.bytes);
    try {
      const got = await session.run({ input_1: { type: 'float32', data, dims: [1, 3, SIZE, SIZE] } }, names);
      let worst = 0;
      names.forEach((name, i) => {
        const g = got.get(name)!;
        assert.deepEqual(g.dims, want[i].shape, name);
        const w = want[i].dataSync();
        for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j] - g.data[j]));
      });
      t.diagnostic(`max |TF.js - ONNX| over the six outputs: ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `max difference ${worst}`);
    } finally {
      await session.release();
      tf.dispose([x, ...want]);
      graph.dispose();
    }
    const trunk = await base.frozenTrunk(NANODET_CUTS.stride8);
    try {
      const maps = await trunk.predictRaw!(new Float32Array(2 * SIZE * SIZE * 3).fill(0.5), [2, SIZE, SIZE, 3]);
      assert.deepEqual(maps.dims, [2, SIZE / 8, SIZE / 8, 128]);
    } finally {
      await trunk.release?.();
    }
  });
});
