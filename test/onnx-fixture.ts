// A small ONNX image model built here, as PyTorch would export it (NCHW input, a dynamic batch
// dimension), with its TF.js twin: conv 3x3 (pad 1) + ReLU → "features" → global average pool →
// flatten → Gemm → "logits". No download: the bytes are encoded with onnx-proto.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { mulberry32 } from '../src/math/random.js';

const { onnx } = onnxProto;
export const SIZE = 16; // the size of colourSet images
const [C_IN, C_OUT, CLASSES] = [3, 4, 2];

function randoms(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() - 0.5);
}

export const weights = {
  conv: randoms(C_OUT * C_IN * 9, 1),
  bias: randoms(C_OUT, 2),
  fc: randoms(C_OUT * CLASSES, 3),
  fcBias: randoms(CLASSES, 4),
};

const initializer = (name: string, dims: number[], data: Float32Array) =>
  onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer.slice(0)) });
const valueInfo = (name: string, dims: (number | string)[]) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
const attr = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, ints, type: onnx.AttributeProto.AttributeType.INTS });

export function tinyOnnxBytes(): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'tiny_nchw',
    input: [valueInfo('pixel_values', ['batch', C_IN, SIZE, SIZE])],
    output: [valueInfo('logits', ['batch', CLASSES])],
    initializer: [
      initializer('conv.weight', [C_OUT, C_IN, 3, 3], weights.conv),
      initializer('conv.bias', [C_OUT], weights.bias),
      initializer('fc.weight', [C_OUT, CLASSES], weights.fc),
      initializer('fc.bias', [CLASSES], weights.fcBias),
    ],
    node: [
      onnx.NodeProto.create({
        opType: 'Conv',
        input: ['pixel_values', 'conv.weight', 'conv.bias'],
        output: ['conv_out'],
        attribute: [attr('pads', [1, 1, 1, 1]), attr('kernel_shape', [3, 3])],
      }),
      onnx.NodeProto.create({ opType: 'Relu', input: ['conv_out'], output: ['features'] }),
      onnx.NodeProto.create({ opType: 'GlobalAveragePool', input: ['features'], output: ['pooled'] }),
      onnx.NodeProto.create({ opType: 'Flatten', input: ['pooled'], output: ['flat'] }),
      onnx.NodeProto.create({ opType: 'Gemm', input: ['flat', 'fc.weight', 'fc.bias'], output: ['logits'] }),
    ],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'graft-test', opsetImport: [{ domain: '', version: 13 }], graph });
  return onnx.ModelProto.encode(model).finish();
}

export function saveTinyOnnx(dir: string, sidecar?: object): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'tiny.onnx');
  writeFileSync(path, tinyOnnxBytes());
  if (sidecar) writeFileSync(`${path}.json`, JSON.stringify(sidecar));
  return path;
}

/** The same network's features in TF.js (NHWC): conv + ReLU, and their spatial mean. */
export function tfjsFeatures(x: tf.Tensor4D): { features: tf.Tensor4D; pooled: tf.Tensor2D } {
  return tf.tidy(() => {
    // ONNX weights are [out, in, kh, kw]; TF.js conv2d takes [kh, kw, in, out].
    const kernel = tf.transpose(tf.tensor4d(weights.conv, [C_OUT, C_IN, 3, 3]), [2, 3, 1, 0]) as tf.Tensor4D;
    const features = tf.relu(tf.add(tf.conv2d(x, kernel, 1, 'same'), tf.tensor1d(weights.bias))) as tf.Tensor4D;
    return { features, pooled: tf.mean(features, [1, 2]) as tf.Tensor2D };
  });
}
