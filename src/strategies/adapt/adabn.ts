// AdaBN (Li et al. 2016, "Revisiting batch normalization for practical domain adaptation"): a
// network trained on the source normalises each domain with that domain's own statistics. Every
// BatchNorm layer of the trunk gets the mean and variance its input has on target images; the
// learned scale and shift stay. Source images keep running with the source statistics.
import * as tf from '@tensorflow/tfjs';
import type { Normalize } from '../../bases/types.js';
import { mulberry32, shuffle } from '../../math/random.js';
import type { ImageSet } from '../../data/types.js';
import { batchToTensor } from '../../engine/tensors.js';

export interface AdaBNOptions {
  /** Target images the statistics are estimated from (default 256, or all when fewer). */
  sample?: number;
  batchSize?: number;
  seed?: number;
}

const isBatchNorm = (l: tf.layers.Layer) => l.getClassName() === 'BatchNormalization';

/**
 * A copy of `model` whose BatchNorm moving statistics are those of `images`. One pass: the copy
 * runs with every BatchNorm in training mode, so each layer normalises with the statistics of the
 * target batch in front of it, and what reaches the next BatchNorm is what it sees once the layers
 * below use target statistics (the layer-by-layer recomputation, with batch statistics in place
 * of whole-sample ones). Each layer's input moments are pooled over the batches.
 */
export async function adaBNModel(
  model: tf.LayersModel,
  images: ImageSet,
  normalize: Normalize,
  o: AdaBNOptions = {},
): Promise<tf.LayersModel> {
  const copy = await tf.models.modelFromJSON({ modelTopology: model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'] });
  copy.setWeights(model.getWeights());
  const norms = copy.layers.filter(isBatchNorm);
  if (!norms.length) return copy;
  const inputs = norms.map((l) => l.input as tf.SymbolicTensor);
  const probe = tf.model({ inputs: copy.inputs, outputs: inputs });
  const n = images.labels.length;
  const picked = shuffle(
    Array.from({ length: n }, (_, i) => i),
    mulberry32(o.seed ?? 0),
  ).slice(0, o.sample ?? 256);
  const batchSize = o.batchSize ?? 16;
  const sums = norms.map(() => ({ mean: undefined as tf.Tensor | undefined, square: undefined as tf.Tensor | undefined }));
  let count = 0;
  try {
    for (let i = 0; i < picked.length; i += batchSize) {
      const idx = picked.slice(i, i + batchSize);
      const x = await batchToTensor(images, normalize, idx);
      tf.tidy(() => {
        const outs = [probe.apply(x, { training: true })].flat() as tf.Tensor[];
        outs.forEach((a, j) => {
          // Moments over every axis but the channels, weighted by the batch's size.
          const axes = a.shape.slice(0, -1).map((_, k) => k);
          const { mean, variance } = tf.moments(a, axes);
          const m = tf.mul(mean, idx.length);
          const s = tf.mul(tf.add(variance, tf.square(mean)), idx.length);
          const prev = sums[j];
          sums[j] = { mean: tf.keep(prev.mean ? tf.add(prev.mean, m) : m), square: tf.keep(prev.square ? tf.add(prev.square, s) : s) };
          tf.dispose([prev.mean, prev.square].filter((t): t is tf.Tensor => t !== undefined));
        });
      });
      x.dispose();
      count += idx.length;
    }
    norms.forEach((layer, j) => {
      tf.tidy(() => {
        const mean = tf.div(sums[j].mean!, count);
        const variance = tf.relu(tf.sub(tf.div(sums[j].square!, count), tf.square(mean)));
        const weights = layer.getWeights();
        // BatchNormalization weights: [gamma?, beta?, movingMean, movingVariance].
        layer.setWeights([...weights.slice(0, -2), mean, variance]);
      });
    });
  } finally {
    sums.forEach((s) => tf.dispose([s.mean, s.square].filter((t): t is tf.Tensor => t !== undefined)));
  }
  return copy;
}
