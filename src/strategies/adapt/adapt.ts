// Domain adaptation: an adaptation network — a bottleneck (Dense, BatchNorm, ReLU) and a softmax
// classifier — trained with a method's loss (methods/), on a frozen trunk's features (computed once
// and cached like any stage's) or behind a trainable trunk on the images. The bottleneck is where
// the methods act, as in the DANN paper's experiments on pre-trained features (Ganin et al. 2016,
// section 5.2) and Deep CORAL's fc layers. Training is graft's fit loop with a step of its own:
// TF.js's fit has no place for a second domain's batch or a loss on features.
import { withDefaults } from '../../core/options.js';
import * as tf from '@tensorflow/tfjs';
import { usageError } from '../../core/errors.js';
import { DEFAULT_TRAIN_ENGINE, onnxTrainerFor, tfjsOnly, type OnnxTrainer, type TrainEngineUsed } from '../../engine/onnx-train.js';
import { gatherRows, oneHot, oneHotRows } from '../../engine/tensors.js';
import { mulberry32 } from '../../math/random.js';
import { withSeed } from '../../math/seed.js';
import { EarlyStopping, fitLoop, shuffledBatches, type TrainingLoop } from '../../train/loop.js';
import { ADAPT_METHODS, ADAPTATION_METHODS, type AdaptMethod } from './methods/index.js';
import type { AdaptationMethod, AdaptOptions, AdaptResult, LabelledDomain, MethodRun, SourceSplit } from './types.js';

const DEFAULTS = {
  epochs: 30,
  batchSize: 64,
  learningRate: 1e-3,
  bottleneck: 256,
  coralWeight: 1,
  adversary: 'reversal' as 'reversal' | 'confusion',
};

/** The bottleneck's output, where the methods' losses act. */
const FEATURES = 'adapt_relu';

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
  h = tf.layers.activation({ activation: 'relu', name: FEATURES }).apply(h) as tf.SymbolicTensor;
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
  // Options left undefined (an experiment passing `adversary: undefined`) keep the defaults.
  const o = withDefaults(DEFAULTS, options);
  return withSeed(o.seed ?? 0, async () => {
    if (method.train) {
      // Methods with training of their own build it from source-only runs.
      const round = (train: LabelledDomain, r: number) => trainRound(train, source.val, target, classes, o, ADAPTATION_METHODS.none, r);
      return method.train(source, target, round, o);
    }
    // AdaBN trains as source-only: its change is in how the target is normalised afterwards (adaptTo).
    const r = await trainRound(source.train, source.val, target, classes, o, method, 0);
    return {
      model: r.model,
      checkpoint: 'best source validation accuracy',
      sourceValAccuracy: r.sourceValAccuracy,
      trainEngine: r.trainEngine,
    };
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
  const run = method.start?.(o);
  // One stream for the epochs' order and the target batches drawn beside each source batch.
  const rand = mulberry32((o.seed ?? 0) * 7919 + round);
  const n = train.y.length;
  const nt = target.shape[0];
  const yAll = oneHot(train.y, classes);
  const checkpoint = new EarlyStopping({ monitor: 'valAccuracy', mode: 'max' });
  const { trainer, used } = await adaptationTrainer(model, run, o);
  const d: RoundData = {
    train,
    target,
    yAll,
    aligned: method.aligned,
    run,
    drawTarget: (idx) => idx.map(() => Math.floor(rand() * nt)),
    learningRate: (progress) => method.learningRate?.(o.learningRate, progress) ?? o.learningRate,
  };
  const steps = trainer ? onnxSteps(trainer, d) : tfjsSteps(model, features, d);
  // On ONNX Runtime the source validation runs there too, on the trainer's weights.
  const valArrays = trainer && ([Float32Array.from(val.x.dataSync()), oneHotRows(val.y, classes)] as const);
  try {
    await fitLoop(
      model,
      {
        stage: round ? `${o.method} round ${round}` : o.method,
        epochs: o.epochs,
        batches: () => shuffledBatches(n, o.batchSize, rand),
        ...steps,
        validate: async () => ({
          valAccuracy:
            trainer && valArrays
              ? (await trainer.evaluate(valArrays[0], val.x.shape, valArrays[1])).accuracy
              : accuracyOn(model, val.x, val.y),
        }),
      },
      [checkpoint, ...(o.callbacks ?? [])],
    );
  } finally {
    yAll.dispose();
    steps.dispose?.();
    await trainer?.release();
    run?.dispose?.();
  }
  return { model, sourceValAccuracy: checkpoint.best, trainEngine: used };
}

/** A trainer on ONNX Runtime for the adaptation network and the method's loss, or why it trains in TF.js. */
async function adaptationTrainer(
  model: tf.LayersModel,
  run: MethodRun | undefined,
  o: AdaptOptions & { method: AdaptMethod },
): Promise<{ trainer?: OnnxTrainer; used: TrainEngineUsed }> {
  const choice = o.trainEngine ?? DEFAULT_TRAIN_ENGINE;
  const term = run ? run.step?.term : { kind: 'none' as const };
  if (!term) return { used: tfjsOnly(choice, `${o.method}'s loss has no ONNX Runtime step`) };
  return onnxTrainerFor(model, choice, {
    optimizer: { kind: 'adam' },
    loss: { kind: 'adaptation', features: FEATURES, term },
    seed: o.seed,
  });
}

interface RoundData {
  train: LabelledDomain;
  target: tf.Tensor;
  yAll: tf.Tensor2D;
  aligned: boolean;
  run?: MethodRun;
  /** Target rows to go beside a source batch (drawn for every method, so the stream stays the same). */
  drawTarget(idx: number[]): number[];
  learningRate(progress: number): number;
}

/** Rows of `x` at `idx` (a batch). */
const rows = <T extends tf.Tensor>(x: T, idx: number[]) => tf.gather(x, tf.tensor1d(idx, 'int32')) as T;

/** The adaptation step in TF.js: Adam on the cross-entropy of the source rows plus the method's loss. */
function tfjsSteps(model: tf.LayersModel, features: tf.LayersModel, d: RoundData): Pick<TrainingLoop, 'step'> & { dispose(): void } {
  const output = model.getLayer('adapt_output');
  const optimizer = tf.train.adam(d.learningRate(0));
  return {
    step: (idx, { progress }) => {
      const tIdx = d.drawTarget(idx);
      (optimizer as unknown as { learningRate: number }).learningRate = d.learningRate(progress);
      const cost = optimizer.minimize(() => {
        const xs = rows(d.train.x, idx);
        const ys = rows(d.yAll, idx);
        // Source and target go through the extractor as one batch: its BatchNorm then normalises
        // both with the same statistics, as its moving averages (used at inference) will.
        const h = features.apply(d.aligned ? tf.concat([xs, rows(d.target, tIdx)]) : xs, { training: true }) as tf.Tensor2D;
        const hs = d.aligned ? h.slice(0, idx.length) : h;
        const probs = output.apply(hs) as tf.Tensor2D;
        const loss = tf.losses.softmaxCrossEntropy(ys, tf.log(tf.add(probs, 1e-7))) as tf.Scalar;
        return d.run ? d.run.addLoss(loss, { h, hs, ht: h.slice(idx.length), progress }) : loss;
      }, true)!;
      const loss = cost.dataSync()[0];
      cost.dispose();
      return { size: idx.length, loss };
    },
    dispose: () => optimizer.dispose(),
  };
}

/** The same step on ONNX Runtime: source rows, then (aligned) target rows, as one batch; weights back to TF.js after every epoch. */
function onnxSteps(trainer: OnnxTrainer, d: RoundData): Pick<TrainingLoop, 'step' | 'afterEpoch'> & { dispose?(): void } {
  const xs = Float32Array.from(d.train.x.dataSync());
  const xt = d.aligned ? Float32Array.from(d.target.dataSync()) : undefined;
  const ys = d.yAll.dataSync() as Float32Array;
  const row = xs.length / d.train.y.length;
  const classes = d.yAll.shape[1];
  return {
    async step(idx, { progress }) {
      const tIdx = d.drawTarget(idx);
      const source = gatherRows(xs, row, idx);
      let xb = source;
      if (xt) {
        xb = new Float32Array(source.length * 2);
        xb.set(source);
        xb.set(gatherRows(xt, row, tIdx), source.length);
      }
      const logs = await trainer.train(
        xb,
        [xb.length / row, ...d.train.x.shape.slice(1)],
        gatherRows(ys, classes, idx),
        d.learningRate(progress),
        d.run?.step?.scalars?.(progress),
      );
      return { size: idx.length, loss: logs.loss };
    },
    afterEpoch: () => trainer.writeBack(),
  };
}

export type { AdaptMethod } from './methods/index.js';
export { ADAPT_METHODS } from './methods/index.js';
