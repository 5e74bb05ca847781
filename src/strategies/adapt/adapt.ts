// Domain adaptation: an adaptation network — a bottleneck (Dense, BatchNorm, ReLU) and a softmax
// classifier — trained with a method's loss (methods/), on a frozen trunk's features (computed once
// and cached like any stage's) or behind a trainable trunk on the images. The bottleneck is where
// the methods act, as in the DANN paper's experiments on pre-trained features (Ganin et al. 2016,
// section 5.2) and Deep CORAL's fc layers. Training is graft's fit loop with a step of its own:
// TF.js's fit has no place for a second domain's batch or a loss on features.
import * as tf from '@tensorflow/tfjs';
import { usageError } from '../../core/errors.js';
import { oneHot } from '../../engine/tensors.js';
import { mulberry32 } from '../../math/random.js';
import { withSeed } from '../../math/seed.js';
import { EarlyStopping, fitLoop, shuffledBatches } from '../../train/loop.js';
import { ADAPT_METHODS, ADAPTATION_METHODS, type AdaptMethod } from './methods/index.js';
import type { AdaptationMethod, AdaptOptions, AdaptResult, LabelledDomain, SourceSplit } from './types.js';

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
 * Train the adaptation network with `method` on the labelled source and the unlabelled target
 * (features, or images with a trainable trunk; for semi-supervised runs, put the labelled target
 * samples in `source.train`). Keeps the epoch with the best source validation accuracy: no target
 * label takes part in choosing it.
 */
export async function trainAdaptation(
  source: SourceSplit,
  target: tf.Tensor,
  classes: number,
  options: AdaptOptions & { method: AdaptMethod },
): Promise<AdaptResult> {
  const method: AdaptationMethod | undefined = ADAPTATION_METHODS[options.method];
  if (!method) throw usageError(`method must be one of ${ADAPT_METHODS.join(', ')}, got ${options.method}`);
  const o = { ...DEFAULTS, ...options };
  return withSeed(o.seed ?? 0, async () => {
    if (method.train) {
      // Methods with training of their own build it from source-only runs.
      const round = (train: LabelledDomain, r: number) => trainRound(train, source.val, target, classes, o, ADAPTATION_METHODS.none, r);
      return method.train(source, target, round, o);
    }
    // AdaBN trains as source-only: its change is in how the target is normalised afterwards (adaptTo).
    const r = await trainRound(source.train, source.val, target, classes, o, method, 0);
    return { model: r.model, checkpoint: 'best source validation accuracy', sourceValAccuracy: r.sourceValAccuracy };
  });
}

/** One run of the adaptation network with `method`, checkpointed on source validation accuracy. */
async function trainRound(
  train: LabelledDomain,
  val: LabelledDomain,
  target: tf.Tensor,
  classes: number,
  o: typeof DEFAULTS & AdaptOptions & { method: AdaptMethod },
  method: AdaptationMethod,
  round: number,
) {
  const { model, features } = buildClassifier(train.x.shape.slice(1), o.bottleneck, classes, await o.trunk?.());
  const output = model.getLayer('adapt_output');
  const run = method.start?.(o);
  const optimizer = tf.train.adam(o.learningRate);
  // One stream for the epochs' order and the target batches drawn beside each source batch.
  const rand = mulberry32((o.seed ?? 0) * 7919 + round);
  const n = train.y.length;
  const nt = target.shape[0];
  const yAll = oneHot(train.y, classes);
  const checkpoint = new EarlyStopping({ monitor: 'valAccuracy', mode: 'max' });
  try {
    await fitLoop(
      model,
      {
        stage: round ? `${o.method} round ${round}` : o.method,
        epochs: o.epochs,
        batches: () => shuffledBatches(n, o.batchSize, rand),
        step: (idx, { progress }) => {
          const tIdx = idx.map(() => Math.floor(rand() * nt));
          if (method.learningRate)
            (optimizer as unknown as { learningRate: number }).learningRate = method.learningRate(o.learningRate, progress);
          const cost = optimizer.minimize(() => {
            const xs = rows(train.x, idx);
            const ys = rows(yAll, idx);
            // Source and target go through the extractor as one batch: its BatchNorm then normalises
            // both with the same statistics, as its moving averages (used at inference) will.
            const h = features.apply(method.aligned ? tf.concat([xs, rows(target, tIdx)]) : xs, { training: true }) as tf.Tensor2D;
            const hs = method.aligned ? h.slice(0, idx.length) : h;
            const probs = output.apply(hs) as tf.Tensor2D;
            const loss = tf.losses.softmaxCrossEntropy(ys, tf.log(tf.add(probs, 1e-7))) as tf.Scalar;
            return run ? run.addLoss(loss, { h, hs, ht: h.slice(idx.length), progress }) : loss;
          }, true)!;
          const loss = cost.dataSync()[0];
          cost.dispose();
          return { size: idx.length, loss };
        },
        validate: () => ({ valAccuracy: accuracyOn(model, val.x, val.y) }),
      },
      [checkpoint, ...(o.callbacks ?? [])],
    );
  } finally {
    yAll.dispose();
    optimizer.dispose();
    run?.dispose?.();
  }
  return { model, sourceValAccuracy: checkpoint.best };
}

export type { AdaptMethod } from './methods/index.js';
export { ADAPT_METHODS } from './methods/index.js';
