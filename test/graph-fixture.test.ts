// The hand-built GraphModel fixture loads through the project's file handler and computes the same
// features as its LayersModel twin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { fileHandler, readModelJson } from '../src/io/layers-files.js';
import { mulberry32 } from '../src/math/random.js';
import { tempDir } from './helpers.js';
import { saveTinyGraphModel, tinyGraphReference } from './graph-fixture.js';

describe('tiny graph-model fixture', () => {
  let dir: string;
  let path: string;
  let graph: tf.GraphModel;

  before(async () => {
    await tf.setBackend('cpu');
    dir = tempDir('graft-graph-');
    path = await saveTinyGraphModel(dir);
    graph = await tf.loadGraphModel(fileHandler(path));
  });

  after(() => {
    graph?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('is written in the converter layout', async () => {
    const json = await readModelJson(path);
    assert.equal(json.format, 'graph-model');
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    const nodes = (json.modelTopology as { node: { op: string }[] }).node.map((n) => n.op);
    assert.deepEqual(nodes, ['Placeholder', 'Const', 'Const', 'Const', 'Conv2D', 'BiasAdd', 'Relu', 'Mean', 'Identity']);
  });

  test('reports its input and output', () => {
    assert.equal(graph.inputs.length, 1);
    assert.equal(graph.inputs[0].name, 'image');
    assert.deepEqual(graph.inputs[0].shape, [-1, 16, 16, 3]);
    assert.equal(graph.inputs[0].dtype, 'float32');
    assert.equal(graph.outputs.length, 1);
    assert.equal(graph.outputs[0].name, 'features');
    assert.deepEqual(graph.inputNodes, ['image']);
    assert.deepEqual(graph.outputNodes, ['features']);
    // TF.js 4.22 reads output shapes only from a node's own `shape` attr, which Identity lacks (as
    // in real converter output), so `outputs[0].shape` is undefined; the [-1,8] is in the signature.
    const outShape = graph.outputs[0].shape;
    if (outShape !== undefined) assert.deepEqual(outShape, [-1, 8]);
    const sig = graph.modelSignature as { outputs: Record<string, { tensorShape: { dim: { size: string }[] } }> };
    assert.deepEqual(
      sig.outputs.features.tensorShape.dim.map((d) => Number(d.size)),
      [-1, 8],
    );
  });

  test('matches the LayersModel reference on the cpu backend', () => {
    const rand = mulberry32(3);
    const reference = tinyGraphReference();
    try {
      const [got, want] = tf.tidy(() => {
        const x = tf.tensor4d(
          Float32Array.from({ length: 2 * 16 * 16 * 3 }, () => rand() * 2 - 1),
          [2, 16, 16, 3],
        );
        const g = graph.predict(x) as tf.Tensor;
        const r = reference.predict(x) as tf.Tensor;
        assert.deepEqual(g.shape, [2, 8]);
        assert.deepEqual(r.shape, [2, 8]);
        return [g.dataSync(), r.dataSync()];
      });
      let maxDiff = 0;
      for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
      assert.ok(maxDiff <= 1e-5, `max |graph - reference| = ${maxDiff}`);
      assert.ok(
        want.some((v) => v > 0),
        'reference features are not all zero',
      );
    } finally {
      reference.dispose();
    }
  });

  test('execute can fetch an inner node', () => {
    const y = tf.tidy(() => graph.execute(tf.zeros([1, 16, 16, 3]), 'conv/Relu') as tf.Tensor);
    assert.deepEqual(y.shape, [1, 16, 16, 8]);
    y.dispose();
  });
});
