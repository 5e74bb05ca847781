import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import onnxPkg from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { useBackend } from '../src/backend/index.js';
import { loadDigitsCnn } from '../src/bases/image/digits-cnn.js';
import { loadMobilenetV2 } from '../src/bases/image/mobilenet-v2.js';
import { mulberry32 } from '../src/math/random.js';
import { GraftError } from '../src/core/errors.js';
import { IR_VERSION, OPSET, type OnnxExportOptions, layersModelToOnnx } from '../src/onnx/from-layers.js';
import { modelAbove, ownOutput } from '../src/graft/split.js';
import { tinyModel } from './helpers.js';

const { onnx } = onnxPkg;
type Sym = tf.SymbolicTensor;

// TF.js on the cpu backend is the reference: ORT must give the same numbers within 1e-4, relative
// to the output's magnitude when that is above 1 (float32 sums over thousands of terms).
const TOLERANCE = 1e-4;

before(async () => {
  await useBackend('cpu');
});

/** Every weight uniform in ±0.5 (±scale), variances in [0.5, 1.5): BN statistics far from 0/1. */
function randomize(model: tf.LayersModel, seed: number, scale = 1): tf.LayersModel {
  const rand = mulberry32(seed);
  model.setWeights(
    model.weights.map((w) => {
      const shape = w.shape as number[];
      const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() - 0.5) * scale);
      return tf.tensor(w.name.includes('variance') ? values.map((v) => 1 + v) : values, shape);
    }),
  );
  return model;
}

function randomInput(shape: number[], seed: number, lo = -3, hi = 3): tf.Tensor {
  const rand = mulberry32(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * rand()),
    shape,
  );
}

/** The ModelProto back from the bytes, its graph typed as the message it decodes to. */
function decode(bytes: Uint8Array) {
  const model = onnx.ModelProto.decode(bytes);
  return { model, graph: model.graph as Onnx.GraphProto };
}

const nchw = (x: tf.Tensor) => tf.transpose(x, [0, 3, 1, 2]);

async function runOnnx(bytes: Uint8Array, inputs: tf.Tensor[]): Promise<{ names: string[]; outputs: ort.Tensor[] }> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds: Record<string, ort.Tensor> = {};
  inputs.forEach((x, i) => {
    feeds[session.inputNames[i]] =
      x.dtype === 'int32'
        ? new ort.Tensor('int32', x.dataSync() as Int32Array, x.shape)
        : new ort.Tensor('float32', x.dataSync() as Float32Array, x.shape);
  });
  const result = await session.run(feeds);
  const outputs = session.outputNames.map((n) => result[n]);
  await session.release();
  return { names: [...session.outputNames], outputs };
}

/** Largest |a - b| over the scale of the reference (1 when the values are small). */
function relDiff(ref: tf.Tensor, got: ort.Tensor): number {
  assert.deepEqual([...got.dims], ref.shape, 'output shape');
  const r = ref.dataSync();
  const o = got.data as Float32Array;
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < r.length; i++) {
    diff = Math.max(diff, Math.abs(r[i] - o[i]));
    scale = Math.max(scale, Math.abs(r[i]));
  }
  return diff / scale;
}

/** Export, run in ORT and compare every output with TF.js; returns the diffs by output name. */
async function compare(
  model: tf.LayersModel,
  inputs: tf.Tensor[],
  options: OnnxExportOptions = {},
  feed = inputs,
): Promise<Record<string, number>> {
  const outNames = options.outputs ?? model.outputLayers.map((l) => l.name);
  const target = options.outputs
    ? tf.model({ inputs: model.inputs, outputs: options.outputs.map((n) => ownOutput(model.getLayer(n))) })
    : model;
  const ref = [target.predict(inputs.length === 1 ? inputs[0] : inputs)].flat() as tf.Tensor[];
  const { names, outputs } = await runOnnx(layersModelToOnnx(model, options), feed);
  assert.deepEqual(names, outNames);
  const diffs: Record<string, number> = {};
  names.forEach((n, i) => {
    diffs[n] = relDiff(ref[i], outputs[i]);
    assert.ok(diffs[n] <= TOLERANCE, `${model.name}/${n}: max diff ${diffs[n]}`);
  });
  tf.dispose(ref);
  return diffs;
}

const ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'sigmoid',
  'hardSigmoid',
  'tanh',
  'softmax',
  'logSoftmax',
  'elu',
  'selu',
  'softplus',
  'softsign',
  'swish',
  'mish',
  'gelu',
  'gelu_new',
] as const;

/** A 16x16x3 conv net with every supported image layer, several of them graph outputs. */
function convZoo(): tf.LayersModel {
  const L = tf.layers;
  const input = tf.input({ shape: [16, 16, 3], name: 'image' });
  const ap = (layer: tf.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;
  let x = ap(L.rescaling({ scale: 0.5, offset: 0.1, name: 'rescale' }), input);
  x = ap(L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', name: 'conv_s2_same' }), x); // 8x8, pads 0/1
  x = ap(L.batchNormalization({ name: 'bn' }), x);
  const r = ap(L.reLU({ maxValue: 6, name: 'relu_max6' }), x);
  const dw = ap(
    L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: true, activation: 'elu', name: 'depthwise_m2' }),
    r,
  );
  const dil = ap(L.conv2d({ filters: 16, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh', name: 'conv_dilated' }), r);
  const sep = ap(
    L.separableConv2d({ filters: 16, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'swish', name: 'separable' }),
    r,
  );
  const sepValid = ap(
    L.separableConv2d({ filters: 16, kernelSize: 2, strides: 2, padding: 'valid', useBias: false, name: 'separable_s2' }),
    r,
  ); // 4x4
  const conv1x1 = ap(L.conv2d({ filters: 16, kernelSize: 1, useBias: false, name: 'conv_1x1_nobias' }), r);
  const merged = [
    ap(L.add({ name: 'add3' }), [dw, dil, sep]),
    ap(L.add({ name: 'add2' }), [dw, conv1x1]),
    ap(L.multiply({ name: 'multiply' }), [dw, sep, dil]),
    ap(L.average({ name: 'average' }), [dw, dil]),
    ap(L.maximum({ name: 'maximum' }), [dil, sep]),
    ap(L.minimum({ name: 'minimum' }), [dw, sep]),
  ];
  const cat = ap(L.concatenate({ name: 'concat_channels' }), merged); // 8x8x96
  const catH = ap(L.concatenate({ axis: 1, name: 'concat_rows' }), [dw, sep]); // 16x8x16
  const bn2 = ap(L.batchNormalization({ scale: false, center: false, epsilon: 0.01, name: 'bn_plain' }), cat);
  // Activations on 8 channels, so the 22 branches stay small.
  const squeezed = ap(L.conv2d({ filters: 8, kernelSize: 1, name: 'squeeze' }), bn2);
  const acts = ACTIVATIONS.map((a) => ap(L.activation({ activation: a as 'linear', name: `act_${a}` }), squeezed));
  const special = [
    ap(L.leakyReLU({ alpha: 0.1, name: 'leaky' }), squeezed),
    ap(L.elu({ name: 'elu_layer' }), squeezed),
    ap(L.thresholdedReLU({ theta: 0.3, name: 'thresholded' }), squeezed),
    ap(L.softmax({ axis: -1, name: 'softmax_channels' }) /* TF.js's default axis is 1 */, squeezed),
    ap(L.prelu({ name: 'prelu' }), squeezed),
  ];
  const allActs = ap(L.concatenate({ name: 'activations' }), [...acts, ...special]); // 8x8x168
  const padded = ap(
    L.zeroPadding2d({
      padding: [
        [1, 0],
        [2, 1],
      ],
      name: 'zero_pad',
    }),
    r,
  ); // 9x11
  const cropped = ap(
    L.cropping2D({
      cropping: [
        [1, 0],
        [2, 1],
      ],
      name: 'crop',
    }),
    padded,
  ); // 8x8
  const convValid = ap(L.conv2d({ filters: 8, kernelSize: [3, 2], strides: [2, 1], activation: 'sigmoid', name: 'conv_valid' }), padded); // 4x10
  const cropPool = ap(L.averagePooling2d({ poolSize: 2, name: 'avgpool_valid' }), cropped); // 4x4x8
  const pools = ap(L.concatenate({ name: 'pools' }), [
    ap(L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'maxpool_same' }), allActs),
    ap(L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'avgpool_same' }), allActs),
    ap(L.maxPooling2d({ poolSize: 2, name: 'maxpool_valid' }), cat),
    cropPool,
  ]); // 4x4x440
  // TF.js leaves a -1 of Reshape unknown downstream, so Flatten below needs it spelled out.
  let p = ap(L.spatialDropout1d({ rate: 0.3, name: 'spatial_dropout' }), ap(L.reshape({ targetShape: [16, 440], name: 'reshape' }), pools));
  p = ap(L.permute({ dims: [2, 1], name: 'permute' }), p);
  const denseRank3 = ap(L.dense({ units: 6, activation: 'relu', name: 'dense_rank3' }), p);
  const dense4d = ap(L.dense({ units: 5, name: 'dense_4d' }), ap(L.gaussianNoise({ stddev: 1, name: 'noise' }), sepValid));
  const vectors = ap(L.concatenate({ name: 'vectors' }), [
    ap(L.globalAveragePooling2d({ name: 'gap' }), allActs),
    ap(L.globalMaxPooling2d({ name: 'gmp' }), convValid),
    ap(L.flatten({ name: 'flatten' }), dense4d),
    ap(L.flatten({ name: 'flatten_nchw' }), cropPool),
    ap(L.flatten({ name: 'flatten_rank3' }), denseRank3),
  ]);
  let v = ap(L.batchNormalization({ name: 'bn_vector' }), vectors);
  v = ap(L.dropout({ rate: 0.5, name: 'dropout' }), ap(L.dense({ units: 12, activation: 'selu', name: 'dense_hidden' }), v));
  v = ap(L.alphaDropout({ rate: 0.2, name: 'alpha_dropout' }), ap(L.gaussianDropout({ rate: 0.2, name: 'gaussian_dropout' }), v));
  const out = ap(L.dense({ units: 4, activation: 'softmax', name: 'classifier' }), v);
  const denseNoBias = ap(L.dense({ units: 3, useBias: false, name: 'dense_nobias' }), v);
  return tf.model({ inputs: input, outputs: [out, denseNoBias, vectors, catH, allActs, pools, dw], name: 'conv_zoo' });
}

/** Embedding ids → 1-D pooling and Dense (rank 3 and 2), BatchNorm over vectors. */
function textModel(dtype: 'float32' | 'int32'): tf.LayersModel {
  const L = tf.layers;
  const ids = tf.input({ shape: [10], dtype, name: 'ids' });
  const emb = L.embedding({ inputDim: 50, outputDim: 8, name: 'embedding' }).apply(ids) as Sym;
  const tokens = L.dense({ units: 6, activation: 'gelu', name: 'token_dense' }).apply(emb) as Sym;
  const pooled = L.concatenate({ name: 'pooled' }).apply([
    L.globalAveragePooling1d({ name: 'gap1d' }).apply(emb) as Sym,
    L.globalMaxPooling1d({ name: 'gmp1d' }).apply(tokens) as Sym,
  ]) as Sym;
  let x = L.batchNormalization({ name: 'bn' }).apply(pooled) as Sym;
  x = L.dense({ units: 16, activation: 'relu', name: 'hidden' }).apply(x) as Sym;
  const out = L.dense({ units: 4, activation: 'softmax', name: 'out' }).apply(
    L.dropout({ rate: 0.5, name: 'drop' }).apply(x) as Sym,
  ) as Sym;
  return tf.model({ inputs: ids, outputs: out, name: `text_${dtype}` });
}

const ids = (seed: number) => {
  const rand = mulberry32(seed);
  return tf.tensor(
    Array.from({ length: 30 }, () => Math.floor(rand() * 50)),
    [3, 10],
  );
};

describe('ONNX export: layers', () => {
  it('a conv net with every supported image layer matches TF.js on every output', async () => {
    const model = randomize(convZoo(), 1);
    const diffs = await compare(model, [randomInput([2, 16, 16, 3], 2)]);
    assert.equal(Object.keys(diffs).length, 7);
  });

  it('a text model (Embedding, 1-D pooling, Dense on rank 3) matches with float and int32 ids', async () => {
    for (const dtype of ['float32', 'int32'] as const) {
      const x = ids(3);
      await compare(randomize(textModel(dtype), 4), [dtype === 'int32' ? tf.cast(x, 'int32') : x]);
    }
  });

  it('a Sequential model matches', async () => {
    const model = tf.sequential({
      name: 'seq',
      layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 2], filters: 4, kernelSize: 3, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    await compare(randomize(model, 5), [randomInput([2, 12, 12, 2], 6)]);
  });

  it('a fully convolutional model (unknown height and width) pads "same" with auto_pad', async () => {
    const L = tf.layers;
    const input = tf.input({ shape: [null, null, 3] });
    let x = L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'conv' }).apply(input) as Sym;
    x = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'depthwise' }).apply(x) as Sym;
    x = L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'avgpool' }).apply(x) as Sym;
    x = L.maxPooling2d({ poolSize: 2, padding: 'same', name: 'maxpool' }).apply(x) as Sym;
    const model = randomize(
      tf.model({ inputs: input, outputs: [x, L.globalAveragePooling2d({ name: 'gap' }).apply(x) as Sym], name: 'fcn' }),
      15,
    );
    await compare(model, [randomInput([1, 15, 13, 3], 16)]);
    const dilated = L.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same', name: 'dilated' });
    const bad = tf.model({ inputs: input, outputs: dilated.apply(input) as Sym });
    assert.throws(() => layersModelToOnnx(bad), /dilated \(Conv2D\).*unknown height or width/);
  });

  it("a model re-applying another model's layers (graft's split) and a shared layer export their own graph", async () => {
    const tiny = tinyModel();
    const above = modelAbove(tiny, 'stem_relu');
    await compare(above, [randomInput([2, 8, 8, 8], 7, 0, 2)]);
    const input = tf.input({ shape: [6] });
    const shared = tf.layers.dense({ units: 6, activation: 'tanh', name: 'shared' });
    const twice = shared.apply(shared.apply(input)) as Sym;
    const model = randomize(tf.model({ inputs: input, outputs: twice, name: 'shared_twice' }), 8);
    await compare(model, [randomInput([2, 6], 9)]);
    assert.equal(decode(layersModelToOnnx(model)).graph.initializer.length, 2, 'a shared layer stores its weights once');
  });
});

describe('ONNX export: embedded bases', () => {
  it('digits-cnn matches, whole and up to its pooling layer', async () => {
    const { model } = await loadDigitsCnn();
    const x = randomInput([2, 28, 28, 1], 10, 0, 1);
    await compare(model, [x]);
    await compare(model, [x], { outputs: ['dropout1', 'pool'] }); // dropout1 is pool's tensor under another name
  });

  it('mobilenet_v2 matches: whole, up to out_relu, up to block_15_add, and with an NCHW input', async () => {
    const { model } = await loadMobilenetV2();
    const m = model;
    const x = randomInput([1, 224, 224, 3], 11, 0, 1);
    // One TF.js pass for every output (the cpu backend takes about a second for it).
    const all = tf.model({
      inputs: m.inputs,
      outputs: ['out_relu', 'block_15_add', m.outputLayers[0].name].map((n) => ownOutput(m.getLayer(n))),
    });
    const [outRelu, block15, probs] = all.predict(x) as tf.Tensor[];
    const check = async (options: OnnxExportOptions, refs: tf.Tensor[], feed = x) => {
      const { names, outputs } = await runOnnx(layersModelToOnnx(m, options), [feed]);
      assert.deepEqual(names, options.outputs ?? [m.outputLayers[0].name]);
      return outputs.map((o, i) => relDiff(refs[i], o));
    };
    const diffs = [
      ...(await check({}, [probs])),
      ...(await check({ outputs: ['out_relu'] }, [outRelu])),
      ...(await check({ outputs: ['block_15_add', 'out_relu'] }, [block15, outRelu])),
      ...(await check({ outputs: ['out_relu'], inputLayout: 'nchw' }, [outRelu], nchw(x))),
    ];
    for (const d of diffs) assert.ok(d <= TOLERANCE, `mobilenet_v2: max diff ${diffs.join(', ')}`);
  });
});

describe('ONNX export: options and errors', () => {
  it("inputLayout 'nchw' takes the transposed input and gives the same (NHWC) outputs", async () => {
    const model = randomize(convZoo(), 12);
    const x = randomInput([2, 16, 16, 3], 13);
    await compare(model, [x], { inputLayout: 'nchw', inputName: 'pixels' }, [nchw(x)]);
    const [input] = decode(layersModelToOnnx(model, { inputLayout: 'nchw', inputName: 'pixels', dynamicBatch: false })).graph.input;
    assert.equal(input.name, 'pixels');
    assert.deepEqual(
      input.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue)),
      [1, 3, 16, 16],
    );
  });

  it('names the layer it cannot export, and exports below it', async () => {
    const input = tf.input({ shape: [5, 3] });
    const seq = tf.layers.dense({ units: 4, name: 'proj' }).apply(input) as Sym;
    const out = tf.layers.simpleRNN({ units: 4, name: 'rnn' }).apply(seq) as Sym;
    const model = tf.model({ inputs: input, outputs: out, name: 'recurrent' });
    assert.throws(
      () => layersModelToOnnx(model),
      (e: unknown) => e instanceof GraftError && e.exitCode === 2 && /layer rnn \(SimpleRNN\).*unsupported layer/.test(e.message),
    );
    await compare(model, [randomInput([2, 5, 3], 14)], { outputs: ['proj'] });
    assert.throws(() => layersModelToOnnx(model, { outputs: ['nope'] }), /no such layer/);
    const relu = tf.layers.reLU({ name: 'odd_relu' });
    const weird = tf.model({ inputs: input, outputs: relu.apply(input) as Sym });
    // A Keras config TF.js would not itself produce, to check the guard.
    (relu as unknown as { getConfig: () => object }).getConfig = () => ({ maxValue: null, negativeSlope: 0.1 });
    assert.throws(() => layersModelToOnnx(weird), /odd_relu \(ReLU\).*negativeSlope/);
    // TF.js applies a BatchNorm over a non-last axis along the last one: refused, not mimicked.
    const image = tf.input({ shape: [4, 4, 2] });
    const rows = tf.model({ inputs: image, outputs: tf.layers.batchNormalization({ axis: 1, name: 'bn_rows' }).apply(image) as Sym });
    assert.throws(() => layersModelToOnnx(rows), /bn_rows \(BatchNormalization\).*axis 1/);
  });

  it('the bytes decode back with onnx-proto: IR version, opset, initializers, dynamic batch', async () => {
    const { model } = await loadDigitsCnn();
    const { model: decoded, graph } = decode(layersModelToOnnx(model));
    assert.equal(Number(decoded.irVersion), IR_VERSION);
    assert.deepEqual(
      decoded.opsetImport.map((o) => [o.domain ?? '', Number(o.version)]),
      [['', OPSET]],
    );
    assert.equal(OPSET, 13);
    assert.equal(decoded.producerName, 'graft');
    assert.equal(graph.initializer.length, 8); // kernel + bias of conv1, conv2, dense1, predictions
    for (const t of graph.initializer) {
      assert.equal(t.dataType, onnx.TensorProto.DataType.FLOAT);
      assert.equal(t.rawData!.length, 4 * t.dims!.reduce((a: number, d) => a * Number(d), 1));
    }
    assert.equal(graph.input[0].name, 'input');
    assert.equal(graph.input[0].type!.tensorType!.shape!.dim![0].dimParam, 'batch');
    assert.deepEqual(
      graph.output.map((o) => o.name),
      ['predictions'],
    );
    assert.equal(
      decode(layersModelToOnnx(model!, { outputs: ['flatten'] })).graph.initializer.length,
      4,
      'a trunk holds only the weights below the cut',
    );
  });
});
