// A tiny TF.js GraphModel on disk ("graph-model" format, as tensorflowjs_converter writes it from a
// TF SavedModel), hand-built so tests need neither a download nor Python TensorFlow:
//
//   image [-1,16,16,3] → Conv2D 3x3 3→8 SAME → BiasAdd → Relu → Mean over [1,2] → features [-1,8]
//
// `tinyGraphReference()` is the same network as a LayersModel with identical weights.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../src/math/random.js';

export const TINY_GRAPH_INPUT = 'image';
export const TINY_GRAPH_OUTPUT = 'features';
const SIZE = 16;
const IN_CHANNELS = 3;
const FILTERS = 8;
const KERNEL = 3;

const KERNEL_SHAPE = [KERNEL, KERNEL, IN_CHANNELS, FILTERS];
const BIAS_SHAPE = [FILTERS];

/** Deterministic "pre-trained" conv weights: kernel [3,3,3,8] (HWIO) and bias [8]. */
function tinyGraphWeights(): { kernel: Float32Array; bias: Float32Array } {
  const rand = mulberry32(7);
  const kernel = Float32Array.from({ length: KERNEL * KERNEL * IN_CHANNELS * FILTERS }, () => rand() - 0.5);
  const bias = Float32Array.from({ length: FILTERS }, () => (rand() - 0.5) * 0.2);
  return { kernel, bias };
}

// GraphDef-in-JSON helpers, spelled the way tfjs-converter spells them (int64s as strings, enums
// and byte strings as in TF's proto JSON).
const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const DT_FLOAT = { type: 'DT_FLOAT' };
const DT_INT32 = { type: 'DT_INT32' };
const ones4 = { list: { i: ['1', '1', '1', '1'] } };

function constNode(name: string, dtype: 'DT_FLOAT' | 'DT_INT32', shape: number[]) {
  return { name, op: 'Const', attr: { value: { tensor: { dtype, tensorShape: dims(shape) } }, dtype: { type: dtype } } };
}

/** The model.json contents (without weights data) of the tiny graph model. */
export function tinyGraphModelJson() {
  const node = [
    { name: TINY_GRAPH_INPUT, op: 'Placeholder', attr: { dtype: DT_FLOAT, shape: { shape: dims([-1, SIZE, SIZE, IN_CHANNELS]) } } },
    constNode('conv/kernel', 'DT_FLOAT', KERNEL_SHAPE),
    constNode('conv/bias', 'DT_FLOAT', BIAS_SHAPE),
    constNode('pool/Mean/reduction_indices', 'DT_INT32', [2]),
    {
      name: 'conv/Conv2D',
      op: 'Conv2D',
      input: [TINY_GRAPH_INPUT, 'conv/kernel'],
      attr: {
        T: DT_FLOAT,
        strides: ones4,
        dilations: ones4,
        padding: { s: b64('SAME') },
        data_format: { s: b64('NHWC') },
        explicit_paddings: { list: {} },
        use_cudnn_on_gpu: { b: true },
      },
    },
    { name: 'conv/BiasAdd', op: 'BiasAdd', input: ['conv/Conv2D', 'conv/bias'], attr: { T: DT_FLOAT, data_format: { s: b64('NHWC') } } },
    { name: 'conv/Relu', op: 'Relu', input: ['conv/BiasAdd'], attr: { T: DT_FLOAT } },
    {
      name: 'pool/Mean',
      op: 'Mean',
      input: ['conv/Relu', 'pool/Mean/reduction_indices'],
      attr: { T: DT_FLOAT, Tidx: DT_INT32, keep_dims: { b: false } },
    },
    { name: TINY_GRAPH_OUTPUT, op: 'Identity', input: ['pool/Mean'], attr: { T: DT_FLOAT } },
  ];
  return {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    signature: {
      inputs: {
        [TINY_GRAPH_INPUT]: { name: `${TINY_GRAPH_INPUT}:0`, dtype: 'DT_FLOAT', tensorShape: dims([-1, SIZE, SIZE, IN_CHANNELS]) },
      },
      outputs: { [TINY_GRAPH_OUTPUT]: { name: `${TINY_GRAPH_OUTPUT}:0`, dtype: 'DT_FLOAT', tensorShape: dims([-1, FILTERS]) } },
    },
    modelTopology: { node, library: {}, versions: {} },
    weightsManifest: [
      {
        paths: ['weights.bin'],
        // Same order as the bytes in weights.bin; matched to Const nodes by name.
        weights: [
          { name: 'conv/kernel', shape: KERNEL_SHAPE, dtype: 'float32' },
          { name: 'conv/bias', shape: BIAS_SHAPE, dtype: 'float32' },
          { name: 'pool/Mean/reduction_indices', shape: [2], dtype: 'int32' },
        ],
      },
    ],
  };
}

/** Write `dir/model.json` + `dir/weights.bin` of the tiny graph model; returns the model.json path. */
export async function saveTinyGraphModel(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const { kernel, bias } = tinyGraphWeights();
  const axes = Int32Array.from([1, 2]);
  const bin = Buffer.concat([kernel, bias, axes].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
  await writeFile(join(dir, 'weights.bin'), bin);
  const path = join(dir, 'model.json');
  await writeFile(path, JSON.stringify(tinyGraphModelJson()));
  return path;
}

/** The same network as a LayersModel (conv2d same + bias + relu, global average pooling), same weights. */
export function tinyGraphReference(): tf.LayersModel {
  const input = tf.input({ shape: [SIZE, SIZE, IN_CHANNELS], name: TINY_GRAPH_INPUT });
  const conv = tf.layers.conv2d({ filters: FILTERS, kernelSize: KERNEL, strides: 1, padding: 'same', activation: 'relu', name: 'conv' });
  const x = conv.apply(input) as tf.SymbolicTensor;
  const out = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'tiny_graph_reference' });
  const { kernel, bias } = tinyGraphWeights();
  tf.tidy(() => conv.setWeights([tf.tensor(kernel, KERNEL_SHAPE), tf.tensor(bias, BIAS_SHAPE)]));
  return model;
}
