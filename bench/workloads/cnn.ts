// The Keras mnist_transfer_cnn network (same architecture as the PyTorch peer's `cnn-train`).
import * as tf from '@tensorflow/tfjs';
import { buildDigitsCnn } from '../../src/bases/image/digits-cnn.js';

export const CNN_BATCH = 128;
export const CNN_CLASSES = 5;

/** digits-cnn's architecture with fresh weights, compiled as the peer trains it. */
export function buildCnn(): tf.LayersModel {
  const model = buildDigitsCnn(CNN_CLASSES);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  return model;
}

/** Random images in [0,1) and one-hot labels, like the peer's torch.rand / randint. */
export function randomBatch(n: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  return tf.tidy(() => {
    const xs = tf.randomUniform([n, 28, 28, 1]) as tf.Tensor4D;
    const ys = tf.oneHot(tf.randomUniform([n], 0, CNN_CLASSES, 'int32') as tf.Tensor1D, CNN_CLASSES).toFloat() as tf.Tensor2D;
    return { xs, ys };
  });
}
