// Pre-training digits-cnn: the Keras mnist_transfer_cnn network trained from scratch on MNIST
// digits 0-4, the base the demo transfers to digits 5-9. Deterministic by seed: `graft pretrain
// digits --force` rewrites models/digits-cnn with the same bytes.
import * as tf from '@tensorflow/tfjs';
import { buildDigitsCnn, DIGITS_CNN_DIR, digitsCnnBase } from '../bases/image/digits-cnn.js';
import type { LayersBase } from '../bases/types.js';
import type { Callback } from '../core/callbacks.js';
import { loadMnist } from '../data/mnist.js';
import { splitDataset } from '../data/split.js';
import { imagesToTensor, oneHot } from '../engine/tensors.js';
import { evaluateModel } from '../evaluate/evaluate.js';
import { asPredictor } from '../graft/graft.js';
import { writeDirAtomically } from '../io/atomic.js';
import { fileHandler } from '../io/layers-files.js';
import { withSeed } from '../math/seed.js';
import { fitStage } from '../train/fit.js';

export interface PretrainResult {
  base: LayersBase;
  testAccuracy: number;
  epochsRun: number;
  seconds: number;
}

/** Adam, early stopping on a held-out split of digits 0-4, test accuracy on another. */
export async function pretrainDigitsCnn(
  opts: { seed?: number; epochs?: number; callbacks?: readonly Callback[] } = {},
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
        callbacks: opts.callbacks,
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
