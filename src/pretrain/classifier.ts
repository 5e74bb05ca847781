// What every pre-training of an embedded classifier base does once its data is built: Adam with
// early stopping on the validation set, accuracy on the test set, the weights written atomically.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import type { Normalize } from '../bases/types.js';
import type { Callback } from '../core/callbacks.js';
import type { ImageSet } from '../data/types.js';
import { imagesToTensor, oneHot } from '../engine/tensors.js';
import { evaluateModel } from '../evaluate/evaluate.js';
import { asPredictor } from '../graft/graft.js';
import { writeDirAtomically } from '../io/atomic.js';
import { fileHandler } from '../io/layers-files.js';
import { fitStage } from '../train/fit.js';

export interface ClassifierFit {
  epochs: number;
  learningRate: number;
  batchSize: number;
  patience: number;
  callbacks?: readonly Callback[];
}

/** Train `model` (built under the caller's seed) on `sets.train`, stopping on `sets.val`; its accuracy on `sets.test`. */
export async function fitAndTest(
  model: tf.LayersModel,
  sets: { train: ImageSet; val: ImageSet; test: ImageSet },
  normalize: Normalize,
  o: ClassifierFit,
): Promise<{ testAccuracy: number; epochsRun: number; seconds: number }> {
  const classes = sets.train.classes.length;
  const [x, xVal] = [imagesToTensor(sets.train, normalize), imagesToTensor(sets.val, normalize)];
  const [y, yVal] = [oneHot(sets.train.labels, classes), oneHot(sets.val.labels, classes)];
  try {
    // TF.js's steps: the committed bases were trained there, and `graft pretrain --force` must
    // reproduce them byte for byte (ONNX Runtime's steps round differently and draw other dropout masks).
    const r = await fitStage(model, x, y, [xVal, yVal], withDefaults({ stage: 'pretrain', trainEngine: 'tfjs' } as const, o));
    const test = await evaluateModel(asPredictor(model), sets.test, normalize, sets.test.classes);
    return { testAccuracy: test.accuracy, epochsRun: r.epochsRun, seconds: r.seconds };
  } finally {
    tf.dispose([x, xVal, y, yVal]);
  }
}

/** `model` saved as `dir`/model.json, whole or not at all. */
export async function saveBaseModel(model: tf.LayersModel, dir: string, force = false): Promise<void> {
  await writeDirAtomically(dir, force, async (tmp) => {
    await model.save(fileHandler(`${tmp}/model.json`));
  });
}
