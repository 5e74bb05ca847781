// AdaBN (Li et al. 2016, "Revisiting batch normalization for practical domain adaptation"): trains
// as source-only; afterwards every BatchNorm takes the target's statistics (the learned scale and
// shift stay), those of a frozen trunk before its target features are computed (adabn.ts) and
// the adaptation network's own here.
import * as tf from '@tensorflow/tfjs';
import type { AdaptationMethod } from '../types.js';

/**
 * The adaptation network's BatchNorm moving statistics replaced by those of the target features
 * at its input; the learned scale and shift stay.
 */
export function adaBN(model: tf.LayersModel, target: tf.Tensor): void {
  const bn = model.getLayer('adapt_bn') as tf.layers.Layer;
  const below = tf.model({ inputs: model.inputs, outputs: model.getLayer('adapt_bottleneck').output as tf.SymbolicTensor });
  tf.tidy(() => {
    const a = below.predict(target, { batchSize: 256 }) as tf.Tensor2D;
    const { mean, variance } = tf.moments(a, 0);
    const [gamma, beta] = bn.getWeights();
    bn.setWeights([gamma, beta, mean, variance]);
  });
}

export const adabn: AdaptationMethod = {
  description: 'AdaBN (Li et al. 2016): every BatchNorm normalises the target with its own statistics',
  aligned: false,
  adaptTo: adaBN,
  trunkStatistics: true,
};
