import * as tf from '@tensorflow/tfjs';
import type { Normalize } from '../bases/types.js';
import type { ImageSet } from '../data/types.js';
import type { Predictor } from '../graft/graft.js';

/** Images (all, or the given indices) as a normalised float NHWC tensor: (pixel/255 - mean) / std. */
export function imagesToTensor(set: ImageSet, normalize: Normalize, indices?: ArrayLike<number>): tf.Tensor4D {
  const { height, width, channels } = set.size;
  const per = height * width * channels;
  const n = indices ? indices.length : set.labels.length;
  const out = new Float32Array(n * per);
  const scale = normalize.std.map((s) => 1 / (255 * s));
  const shift = normalize.mean.map((m, c) => m / normalize.std[c]);
  for (let k = 0; k < n; k++) {
    const src = (indices ? indices[k] : k) * per;
    const dst = k * per;
    for (let p = 0; p < per; p++) {
      const c = p % channels;
      out[dst + p] = set.pixels[src + p] * scale[c] - shift[c];
    }
  }
  return tf.tensor4d(out, [n, height, width, channels]);
}

export function oneHot(labels: Int32Array, classes: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D);
}

/** Run `model` over a set in batches, keeping memory bounded by the batch, not the set. */
export function predictSet(model: Predictor, set: ImageSet, normalize: Normalize, batchSize = 32, onBatch?: (done: number, total: number) => void): tf.Tensor {
  const n = set.labels.length;
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < n; i += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, n - i) }, (_, k) => i + k);
    parts.push(tf.tidy(() => model.predict(imagesToTensor(set, normalize, idx)) as tf.Tensor));
    onBatch?.(Math.min(n, i + batchSize), n);
  }
  if (parts.length === 0) return tf.zeros([0]);
  const all = tf.concat(parts);
  parts.forEach((p) => p.dispose());
  return all;
}
