import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { loadImageBase } from '../src/bases/index.js';
import type { OnnxBase } from '../src/bases/types.js';
import { GraftError } from '../src/core/errors.js';
import { ImageClassifier, loadImageClassifier } from '../src/kinds/image.js';
import { disposeGrafted, graft, pipeline } from '../src/graft/graft.js';
import { trainGrafted } from '../src/train/stages.js';
import { colourSet, tempDir } from './helpers.js';
import { saveTinyOnnx, SIZE, tfjsFeatures } from './onnx-fixture.js';

/** loadImageBase on an `onnx:` spec, checked to be an ONNX base. */
async function loadBase(spec: string, options?: Parameters<typeof loadImageBase>[1]): Promise<OnnxBase> {
  const base = await loadImageBase(spec, options);
  assert.equal(base.kind, 'onnx');
  return base as OnnxBase;
}

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

before(async () => {
  await useBackend('wasm');
});

describe('onnx: bases (a PyTorch-style NCHW model built by the test)', () => {
  it('reads layout, size and the classifier-input cut from the file', async () => {
    const base = await loadBase(`onnx:${saveTinyOnnx(tempDir())}`);
    assert.equal(base.kind, 'onnx');
    assert.equal(base.onnx.layout, 'nchw');
    assert.deepEqual(base.input, { height: SIZE, width: SIZE, channels: 3 });
    assert.equal(base.suggestedCut, 'features', 'the feature map the classifier pools');
    assert.deepEqual(base.onnx.tensors, ['conv_out', 'features', 'pooled', 'flat', 'logits']);
  });

  it('extracts the same features as the network in TF.js, at the auto cut and at an intermediate tensor', async () => {
    const base = await loadBase(`onnx:${saveTinyOnnx(tempDir())}`);
    const x = tf.randomUniform([5, SIZE, SIZE, 3]) as tf.Tensor4D;
    const ref = tfjsFeatures(x);
    const flat = await (await base.frozenTrunk('flat')).predict(x);
    assert.deepEqual(flat.shape, [5, 4]);
    assert.ok(maxAbsDiff(flat, ref.pooled) < 1e-5, `pooled diff ${maxAbsDiff(flat, ref.pooled)}`);
    const spatial = await (await base.frozenTrunk('features')).predict(x);
    assert.deepEqual(spatial.shape, [5, SIZE, SIZE, 4], 'NCHW output comes back NHWC');
    assert.ok(maxAbsDiff(spatial, ref.features) < 1e-5, `features diff ${maxAbsDiff(spatial, ref.features)}`);
    tf.dispose([x, ref.features, ref.pooled, flat, spatial]);
  });

  it('takes preprocessing from a sidecar, and options over the sidecar', async () => {
    const path = saveTinyOnnx(tempDir(), { normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, cut: 'features' });
    const fromSidecar = await loadBase(`onnx:${path}`);
    assert.deepEqual(fromSidecar.normalize.mean, [0.5, 0.5, 0.5]);
    assert.equal(fromSidecar.suggestedCut, 'features');
    const overridden = await loadBase(`onnx:${path}`, { normalize: { mean: [0, 0, 0], std: [1, 1, 1] } });
    assert.deepEqual(overridden.normalize.std, [1, 1, 1]);
  });

  it('rejects normalisation that does not fit the input (NaN features otherwise)', async () => {
    const path = saveTinyOnnx(tempDir());
    await assert.rejects(
      loadBase(`onnx:${path}`, { normalize: { mean: [0.5], std: [1] } }),
      (e: GraftError) => e.exitCode === 2 && /3 finite mean values/.test(e.message),
    );
    await assert.rejects(loadBase(`onnx:${path}`, { normalize: { mean: [0, 0, 0], std: [1, 0, 1] } }), /std values > 0/);
    await assert.rejects(loadBase(`onnx:${path}`, { layout: 'chw' as 'nchw' }), /layout must be nchw or nhwc/);
  });

  it('rejects a missing file, a cut that is no tensor, and a non-ONNX file', async () => {
    await assert.rejects(loadBase('onnx:/nonexistent/model.onnx'), (e: GraftError) => e.exitCode === 2 && /not found/.test(e.message));
    const dir = tempDir();
    await assert.rejects(loadBase(`onnx:${saveTinyOnnx(dir, { cut: 'nope' })}`), /cut "nope"/);
    const base = await loadBase(`onnx:${saveTinyOnnx(tempDir())}`);
    await assert.rejects(graft(base, { classes: ['a', 'b'], cut: 'nope' }), /not found/);
    await assert.rejects(graft(base, { classes: ['a', 'b'], scratch: true }), /frozen onnx model/);
  });

  it('trains a head on it, saves the trunk beside the head, and the saved model predicts the same', async () => {
    const base = await loadBase(`onnx:${saveTinyOnnx(tempDir())}`);
    const data = { train: colourSet(8, undefined, 1), val: colourSet(3, undefined, 2) };
    const g = await graft(base, { classes: ['red', 'blue'] });
    const r = await trainGrafted(g, data, { epochs: 2, seed: 1, batchSize: 4 });
    assert.equal(r.stages[0].engine, 'onnx');
    const out = `${tempDir()}/model`;
    await ImageClassifier.fromGrafted(g).save(out);
    const trained = await loadImageClassifier(out);
    assert.equal(trained.meta.trunk?.path, 'trunk/model.onnx');
    const x = tf.randomUniform([3, SIZE, SIZE, 3]);
    const [a, b] = [await pipeline(g).predict(x), await (await trained.predictor()).predict(x)];
    assert.ok(maxAbsDiff(a, b) < 1e-6);
    tf.dispose([x, a, b]);
    await disposeGrafted(g);
    await trained.dispose();
  });
});
