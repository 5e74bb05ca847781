// Domain adaptation: an adaptation network — a bottleneck (Dense, BatchNorm, ReLU) and a softmax
// classifier — trained with the method's loss, on a frozen trunk's features (computed once and
// cached like any stage's) or behind a trainable trunk on the images. The bottleneck is where the
// methods act, as in the DANN paper's experiments on pre-trained features (Ganin et al. 2016,
// section 5.2) and Deep CORAL's fc layers. The training loop is graft's own: TF.js's fit has no
// place for a second domain's batch or a loss on features.
import * as tf from '@tensorflow/tfjs';
import { mulberry32, shuffle } from '../../data/random.js';
import { usageError } from '../../errors.js';
import { withSeed } from '../../train/seed.js';
import { oneHot } from '../../train/tensors.js';
import { confusionLoss, coralLoss, dannLambda, dannLearningRate, reverseGradient, stopGradient } from './losses.js';

export const ADAPT_METHODS = ['none', 'adabn', 'coral', 'dann', 'self-train'] as const;
export type AdaptMethod = (typeof ADAPT_METHODS)[number];

/** One domain's inputs (features n x d, or images when a trunk is trained), with labels where they may be used. */
export interface Domain {
  x: tf.Tensor;
  y?: Int32Array;
}

export interface AdaptOptions {
  method: AdaptMethod;
  /** Passes over the source features (default 30). */
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Bottleneck width (default 256). */
  bottleneck?: number;
  /** Weight of the CORAL term (default 1, as Sun and Saenko). */
  coralWeight?: number;
  /** Self-training: rounds of pseudo-labelling after the source-only round, and the confidence a pseudo-label needs. */
  selfTrain?: { rounds?: number; threshold?: number };
  /**
   * DANN: how the extractor plays against the domain classifier. 'reversal' (default, Ganin et al.):
   * a gradient reversal layer, the extractor maximises the classifier's loss. 'confusion' (Tzeng et
   * al. 2015): the classifier minimises its loss on features it cannot change, the extractor the
   * confusion loss (λ-weighted) through a classifier it cannot change: bounded, and stable where
   * the reversal oscillates (a whole trunk trained with Adam).
   */
  adversary?: 'reversal' | 'confusion';
  seed?: number;
  /**
   * A trainable feature extractor in front of the bottleneck (inputs are then images), made anew
   * for every training run. Without it the inputs are a frozen trunk's features.
   */
  trunk?: () => Promise<tf.LayersModel>;
  onEpoch?: (e: { round: number; epoch: number; loss: number; sourceValAccuracy: number }) => void;
}

export interface AdaptResult {
  /** Features → class probabilities (the bottleneck and the classifier). */
  model: tf.LayersModel;
  /** How the kept weights were chosen, without target labels. */
  checkpoint: string;
  /** Source validation accuracy of the kept weights. */
  sourceValAccuracy: number;
  /** Self-training: pseudo-labelled target samples used in each round. */
  pseudoLabels?: number[];
}

const DEFAULTS = {
  epochs: 30,
  batchSize: 64,
  learningRate: 1e-3,
  bottleneck: 256,
  coralWeight: 1,
  adversary: 'reversal' as 'reversal' | 'confusion',
};

function buildClassifier(
  inputShape: number[],
  bottleneck: number,
  classes: number,
  trunk?: tf.LayersModel,
): { model: tf.LayersModel; features: tf.LayersModel } {
  const input = trunk ? (trunk.inputs[0] as tf.SymbolicTensor) : tf.input({ shape: inputShape });
  let h = trunk ? (trunk.outputs[0] as tf.SymbolicTensor) : input;
  if (h.shape.length > 2) h = tf.layers.flatten({ name: 'adapt_flatten' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: bottleneck, name: 'adapt_bottleneck' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization({ name: 'adapt_bn' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.activation({ activation: 'relu', name: 'adapt_relu' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: classes, activation: 'softmax', name: 'adapt_output' }).apply(h) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: input, outputs: out }), features: tf.model({ inputs: input, outputs: h }) };
}

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
  return { apply, dispose: () => tf.dispose(weights) };
}

export function accuracyOn(model: tf.LayersModel, x: tf.Tensor, y: Int32Array): number {
  return tf.tidy(() => {
    const predicted = (model.predict(x, { batchSize: 256 }) as tf.Tensor).argMax(1).dataSync();
    let correct = 0;
    predicted.forEach((p, i) => (correct += p === y[i] ? 1 : 0));
    return correct / Math.max(1, y.length);
  });
}

/** Rows of `x` at `idx` (a batch). */
const rows = <T extends tf.Tensor>(x: T, idx: number[]) => tf.gather(x, tf.tensor1d(idx, 'int32')) as T;

/**
 * AdaBN (Li et al. 2016) for the adaptation network: its BatchNorm layer's moving statistics
 * replaced by those of the target features at its input; the learned scale and shift stay. The
 * trunk's BatchNorm layers are adapted by adaBNModel before the target's features are computed.
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

interface Split {
  train: Domain & { y: Int32Array };
  val: Domain & { y: Int32Array };
}

/**
 * Train the adaptation network with `method` on the labelled source and the unlabelled target
 * (features, or images with a trainable trunk; for semi-supervised runs, put the labelled target
 * samples in `source.train`). Keeps
 * the epoch with the best source validation accuracy: no target label takes part in choosing it.
 */
export async function trainAdaptation(source: Split, target: tf.Tensor, classes: number, options: AdaptOptions): Promise<AdaptResult> {
  if (!ADAPT_METHODS.includes(options.method)) throw usageError(`method must be one of ${ADAPT_METHODS.join(', ')}, got ${options.method}`);
  const o = { ...DEFAULTS, ...options };
  return withSeed(o.seed ?? 0, async () => {
    if (o.method !== 'self-train') {
      // AdaBN trains as source-only: its change is in how the target is normalised afterwards (adaBN).
      const r = await trainRound(source.train, source.val, target, classes, o, 0);
      return { model: r.model, checkpoint: 'best source validation accuracy', sourceValAccuracy: r.sourceValAccuracy };
    }
    const rounds = o.selfTrain?.rounds ?? 3;
    const threshold = o.selfTrain?.threshold ?? 0.9;
    let current = await trainRound(source.train, source.val, target, classes, { ...o, method: 'none' }, 0);
    const used: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const { idx, labels } = tf.tidy(() => {
        const p = current.model.predict(target, { batchSize: 256 }) as tf.Tensor2D;
        const conf = p.max(1).dataSync();
        const arg = p.argMax(1).dataSync();
        const keep: number[] = [];
        conf.forEach((c, i) => c >= threshold && keep.push(i));
        return { idx: keep, labels: Int32Array.from(keep, (i) => arg[i]) };
      });
      used.push(idx.length);
      if (!idx.length) break;
      const x = tf.tidy(() => tf.concat([source.train.x, rows(target, idx)]));
      const next = await trainRound(
        { x, y: Int32Array.from([...source.train.y, ...labels]) },
        source.val,
        target,
        classes,
        { ...o, method: 'none' },
        round,
      );
      x.dispose();
      current.model.dispose();
      current = next;
    }
    return {
      model: current.model,
      checkpoint: 'best source validation accuracy in each round',
      sourceValAccuracy: current.sourceValAccuracy,
      pseudoLabels: used,
    };
  });
}

async function trainRound(
  train: Domain & { y: Int32Array },
  val: Domain & { y: Int32Array },
  target: tf.Tensor,
  classes: number,
  o: typeof DEFAULTS & AdaptOptions,
  round: number,
) {
  const { model, features } = buildClassifier(train.x.shape.slice(1), o.bottleneck, classes, await o.trunk?.());
  const output = model.getLayer('adapt_output');
  const discriminator = o.method === 'dann' ? buildDiscriminator(o.bottleneck) : undefined;
  // Adam for every method; DANN anneals its rate by the paper's schedule. (The paper's SGD with
  // momentum 0.9 from 0.01 reached 26.6% on MNIST-M in graft's 10-epoch budget, Adam 39.6%.)
  const optimizer = tf.train.adam(o.learningRate);
  const rand = mulberry32((o.seed ?? 0) * 7919 + round);
  const n = train.y.length;
  const nt = target.shape[0];
  const steps = Math.ceil(n / o.batchSize);
  const total = steps * o.epochs;
  const yAll = oneHot(train.y, classes);
  let best = { accuracy: -1, weights: [] as tf.Tensor[] };
  try {
    let step = 0;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = shuffle(
        Array.from({ length: n }, (_, i) => i),
        rand,
      );
      let lossSum = 0;
      for (let s = 0; s < steps; s++, step++) {
        const idx = order.slice(s * o.batchSize, (s + 1) * o.batchSize);
        const tIdx = idx.map(() => Math.floor(rand() * nt));
        const progress = step / total;
        if (o.method === 'dann')
          (optimizer as unknown as { learningRate: number }).learningRate = dannLearningRate(o.learningRate, progress);
        const lambda = dannLambda(progress);
        const cost = optimizer.minimize(() => {
          const xs = rows(train.x, idx);
          const ys = rows(yAll, idx);
          // Source and target go through the extractor as one batch: its BatchNorm then normalises
          // both with the same statistics, as its moving averages (used at inference) will.
          const aligned = o.method === 'coral' || o.method === 'dann';
          const h = features.apply(aligned ? tf.concat([xs, rows(target, tIdx)]) : xs, { training: true }) as tf.Tensor2D;
          const hs = aligned ? h.slice(0, idx.length) : h;
          const probs = output.apply(hs) as tf.Tensor2D;
          let loss = tf.losses.softmaxCrossEntropy(ys, tf.log(tf.add(probs, 1e-7))) as tf.Scalar;
          if (aligned) {
            const ht = h.slice(idx.length);
            if (o.method === 'coral') loss = tf.add(loss, tf.mul(coralLoss(hs, ht), o.coralWeight));
            else {
              const domain = tf.concat([tf.zeros([idx.length, 1]), tf.ones([tIdx.length, 1])]);
              if (o.adversary === 'confusion') {
                // Two players, two losses: the classifier learns on held features, the extractor confuses a held classifier.
                loss = tf.add(loss, tf.losses.sigmoidCrossEntropy(domain, discriminator!.apply(stopGradient(h))));
                loss = tf.add(loss, tf.mul(confusionLoss(discriminator!.apply(h, true)), lambda));
              } else {
                loss = tf.add(loss, tf.losses.sigmoidCrossEntropy(domain, discriminator!.apply(reverseGradient(h, lambda))));
              }
            }
          }
          return loss;
        }, true);
        lossSum += cost!.dataSync()[0];
        cost!.dispose();
      }
      const accuracy = accuracyOn(model, val.x, val.y);
      o.onEpoch?.({ round, epoch: epoch + 1, loss: lossSum / steps, sourceValAccuracy: accuracy });
      if (accuracy > best.accuracy) {
        tf.dispose(best.weights);
        best = { accuracy, weights: model.getWeights().map((w) => w.clone()) };
      }
    }
    model.setWeights(best.weights);
  } finally {
    tf.dispose([yAll, ...best.weights]);
    optimizer.dispose();
    discriminator?.dispose();
  }
  return { model, sourceValAccuracy: best.accuracy };
}
