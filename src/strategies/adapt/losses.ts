// The pieces domain adaptation adds to a classifier's loss. Each is a plain tensor function so a
// training loop (graft's, or a user's) can combine them; the tests check them against closed forms.
import * as tf from '@tensorflow/tfjs';

/**
 * Covariance of the rows of x (n x d), unbiased: (X'X - (1'X)'(1'X)/n) / (n - 1), as Deep CORAL
 * defines it (Sun and Saenko 2016, eq. 2-3).
 */
export function covariance(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const n = x.shape[0];
    const centred = tf.sub(x, tf.mean(x, 0, true));
    return tf.div(tf.matMul(centred, centred, true, false), Math.max(1, n - 1)) as tf.Tensor2D;
  });
}

/**
 * Deep CORAL's loss: the squared Frobenius distance between the source and target feature
 * covariances, over 4d² (Sun and Saenko 2016, eq. 1). Differentiable in both inputs.
 */
export function coralLoss(source: tf.Tensor2D, target: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const d = source.shape[1];
    const diff = tf.sub(covariance(source), covariance(target));
    return tf.div(tf.sum(tf.square(diff)), 4 * d * d) as tf.Scalar;
  });
}

/**
 * The gradient reversal layer of Ganin et al. (2016): the identity going forward, the incoming
 * gradient multiplied by -lambda going back. Feature extractor and domain classifier then play
 * the minimax game in one backward pass.
 */
export function reverseGradient<T extends tf.Tensor>(x: T, lambda: number): T {
  const op = tf.customGrad(((input: tf.Tensor) => ({
    value: tf.clone(input),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, -lambda),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as T;
}

/** The identity going forward, no gradient going back (TF.js has no stop-gradient op). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const op = tf.customGrad(((input: tf.Tensor) => ({
    value: tf.clone(input),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as T;
}

/**
 * The domain-confusion loss of Tzeng et al. (2015): the cross-entropy between the domain
 * classifier's logits and a uniform 0.5. At its minimum the classifier cannot tell the domains
 * apart; unlike a reversed gradient (which maximises the classifier's loss without bound, and
 * lets the extractor flip the domains), it is bounded below.
 */
export function confusionLoss(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, 0.5), logits) as tf.Scalar);
}

/** DANN's adaptation factor at training progress p in [0, 1]: 2 / (1 + exp(-γp)) - 1, γ = 10 (Ganin et al. 2016, section 5.2.2). */
export function dannLambda(progress: number, gamma = 10): number {
  return 2 / (1 + Math.exp(-gamma * progress)) - 1;
}

/** DANN's annealed learning rate μ0 / (1 + αp)^β, α = 10, β = 0.75 (the same section). */
export function dannLearningRate(base: number, progress: number, alpha = 10, beta = 0.75): number {
  return base / (1 + alpha * progress) ** beta;
}
