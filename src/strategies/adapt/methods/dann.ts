// DANN (Ganin et al. 2016): a domain classifier on the bottleneck, played against the extractor
// through a gradient reversal layer (or, with adversary 'confusion', Tzeng et al. 2015's bounded
// domain-confusion loss), λ and the learning rate on the paper's schedules.
import * as tf from '@tensorflow/tfjs';
import { confusionLoss, dannLambda, dannLearningRate, reverseGradient, stopGradient } from '../losses.js';
import { stepVariable } from '../../../engine/onnx-train.js';
import type { StepVariable } from '../../../onnx/train/losses.js';
import type { AdaptationMethod } from '../types.js';

/**
 * DANN's domain classifier (bottleneck → 100 ReLU → 1 logit) as plain variables, so a loss can read
 * it with its weights held (`held`: no gradient reaches them) as the confusion objective needs.
 */
function buildDiscriminator(bottleneck: number, hidden = 100) {
  const glorot = (fanIn: number, fanOut: number) => tf.variable(tf.randomNormal([fanIn, fanOut], 0, Math.sqrt(2 / (fanIn + fanOut))));
  const weights = [glorot(bottleneck, hidden), tf.variable(tf.zeros([hidden])), glorot(hidden, 1), tf.variable(tf.zeros([1]))];
  const apply = (x: tf.Tensor, held = false) => {
    const [w1, b1, w2, b2] = held ? weights.map((w) => stopGradient(w)) : weights;
    return tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2) as tf.Tensor2D;
  };
  return { apply, weights, dispose: () => tf.dispose(weights) };
}

export const dann: AdaptationMethod = {
  description: 'DANN (Ganin et al. 2016): a domain classifier through gradient reversal, or the confusion objective of Tzeng et al. 2015',
  aligned: true,
  // Adam annealed by the paper's schedule. (The paper's SGD with momentum 0.9 from 0.01 reached
  // 26.6% on MNIST-M in graft's 10-epoch budget, Adam 39.6%.)
  learningRate: dannLearningRate,
  start(o) {
    const discriminator = buildDiscriminator(o.bottleneck);
    return {
      addLoss: (loss, { h, hs, ht, progress }) => {
        const lambda = dannLambda(progress);
        const domain = tf.concat([tf.zeros([hs.shape[0], 1]), tf.ones([ht.shape[0], 1])]);
        if (o.adversary === 'confusion') {
          // Two players, two losses: the classifier learns on held features, the extractor confuses a held classifier.
          const withClassifier = tf.add(loss, tf.losses.sigmoidCrossEntropy(domain, discriminator.apply(stopGradient(h))));
          return tf.add(withClassifier, tf.mul(confusionLoss(discriminator.apply(h, true)), lambda)) as tf.Scalar;
        }
        return tf.add(loss, tf.losses.sigmoidCrossEntropy(domain, discriminator.apply(reverseGradient(h, lambda)))) as tf.Scalar;
      },
      step: {
        term: {
          kind: 'domain-classifier',
          adversary: o.adversary,
          weights: discriminator.weights.map(stepVariable) as [StepVariable, StepVariable, StepVariable, StepVariable],
        },
        scalars: (progress) => ({ lambda: dannLambda(progress) }),
      },
      dispose: discriminator.dispose,
    };
  },
};
