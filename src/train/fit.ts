// One classification stage: Adam, categorical cross-entropy, shuffled batches, early stopping on
// validation loss with the best weights restored. Its steps run on ONNX Runtime where graft's step
// generator covers the model (engine/onnx-train.ts), else in TF.js; there it computes what TF.js's
// model.fit computes, op for op (the same shuffle of one index array kept across epochs, the same
// loss and the same batched validation), so seeded runs give the weights fit gave.
import * as tf from '@tensorflow/tfjs';
import type { Callback } from '../core/callbacks.js';
import { DEFAULT_TRAIN_ENGINE, onnxTrainerFor, type TrainEngine, type TrainEngineUsed, type OnnxTrainer } from '../engine/onnx-train.js';
import { gatherRows } from '../engine/tensors.js';
import { batchRanges, EarlyStopping, fitLoop, inBatches, type TrainingLoop } from './loop.js';

export interface FitOptions {
  stage: string;
  epochs: number;
  learningRate: number;
  batchSize: number;
  /** Epochs without a better validation loss before stopping. */
  patience: number;
  /**
   * The weights the model starts with count as epoch 0: training keeps them unless an epoch beats
   * their validation loss (with validation data only).
   */
  keepInitial?: boolean;
  /** Where the steps run (default auto: ONNX Runtime where graft's step generator covers the model). */
  trainEngine?: TrainEngine;
  /** Seeds the dropout masks on ONNX Runtime (TF.js's come from the seeded Math.random). */
  seed?: number;
  callbacks?: readonly Callback[];
}

export interface StageResult {
  stage: string;
  epochsRun: number;
  bestEpoch: number;
  bestValLoss: number;
  /** What early stopping watched: 'valLoss', or 'loss' without validation data. */
  monitor: 'valLoss' | 'loss';
  /** The best epoch's numbers (valLoss, valAccuracy, loss, accuracy), or the starting weights' when they stayed the best. */
  metrics: Record<string, number>;
  seconds: number;
  /** Where the steps ran, and why not on ONNX Runtime when they did not. */
  trainEngine: TrainEngineUsed;
}

const range = (start: number, end: number) => Array.from({ length: end - start }, (_, k) => start + k);

/** Mean loss and accuracy of `model` on (x, y), batch by batch as TF.js's evaluate sums them. */
export function evaluateClassifier(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  batchSize: number,
): { loss: number; accuracy: number } {
  return tf.tidy(() => {
    const n = x.shape[0];
    let loss: tf.Tensor = tf.scalar(0);
    let accuracy: tf.Tensor = tf.scalar(0);
    for (const [start, end] of batchRanges(n, batchSize)) {
      const idx = tf.tensor1d(range(start, end), 'int32');
      const [xb, yb] = [tf.gather(x, idx), tf.gather(y, idx)];
      const p = model.apply(xb) as tf.Tensor;
      loss = tf.add(loss, tf.mul(end - start, tf.mean(tf.metrics.categoricalCrossentropy(yb, p))));
      accuracy = tf.add(accuracy, tf.mul(end - start, tf.mean(tf.metrics.categoricalAccuracy(yb, p))));
    }
    return { loss: tf.div(loss, n).dataSync()[0], accuracy: tf.div(accuracy, n).dataSync()[0] };
  });
}

export async function fitStage(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  val: [tf.Tensor, tf.Tensor] | undefined,
  o: FitOptions,
): Promise<StageResult> {
  const started = performance.now();
  const validation = val && val[0].shape[0] > 0 ? val : undefined;
  const { trainer, used } = await onnxTrainerFor(model, o.trainEngine ?? DEFAULT_TRAIN_ENGINE, {
    optimizer: { kind: 'adam' },
    seed: o.seed,
  });
  // On ONNX Runtime the evaluation runs there too, on the trainer's weights (the TF.js model gets
  // them after every epoch, before this).
  const valArrays =
    trainer && validation && ([Float32Array.from(validation[0].dataSync()), Float32Array.from(validation[1].dataSync())] as const);
  const validate =
    validation &&
    (async () => {
      const { loss, accuracy } =
        trainer && valArrays
          ? await trainer.evaluate(valArrays[0], validation[0].shape, valArrays[1])
          : evaluateClassifier(model, validation[0], validation[1], o.batchSize);
      return { valLoss: loss, valAccuracy: accuracy };
    });
  // Only against validation data: the epochs' training loss is an average taken with dropout on
  // while the weights move, not comparable with an evaluation of the starting weights.
  const monitor = validate ? 'valLoss' : 'loss';
  const stopping = new EarlyStopping({
    monitor,
    patience: o.patience,
    initial: o.keepInitial && validate ? await validate() : undefined,
  });
  const optimizer = trainer ? undefined : tf.train.adam(o.learningRate);
  // One index array, shuffled in place at the start of every epoch (tf.util.shuffle, seeded through Math.random).
  const order = range(0, x.shape[0]);
  try {
    const history = await fitLoop(
      model,
      {
        stage: o.stage,
        epochs: o.epochs,
        batches: () => (tf.util.shuffle(order), inBatches(order, o.batchSize)),
        ...(trainer ? onnxSteps(trainer, x, y, o.learningRate) : { step: tfjsStep(model, optimizer!, x, y) }),
        validate,
      },
      [stopping, ...(o.callbacks ?? [])],
    );
    return {
      stage: o.stage,
      epochsRun: history.epochs.length,
      bestEpoch: stopping.bestEpoch,
      bestValLoss: stopping.best,
      monitor,
      metrics: stopping.bestMetrics,
      seconds: (performance.now() - started) / 1000,
      trainEngine: used,
    };
  } finally {
    // The optimizer's slots (Adam's moments) are not needed once the stage is over.
    optimizer?.dispose();
    await trainer?.release();
  }
}

/** A step as model.fit takes it: Adam minimising the mean cross-entropy of the batch in TF.js. */
function tfjsStep(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor): TrainingLoop['step'] {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return (batch) =>
    tf.tidy(() => {
      const idx = tf.tensor1d(batch, 'int32');
      const [xb, yb] = [tf.gather(x, idx), tf.gather(y, idx)];
      let accuracy: tf.Scalar | undefined;
      const loss = optimizer.minimize(
        () => {
          const p = model.apply(xb, { training: true }) as tf.Tensor;
          accuracy = tf.keep(tf.mean(tf.metrics.categoricalAccuracy(yb, p)) as tf.Scalar);
          return tf.mean(tf.metrics.categoricalCrossentropy(yb, p)) as tf.Scalar;
        },
        true,
        variables,
      )!;
      const logs = { size: batch.length, loss: loss.dataSync()[0], accuracy: accuracy!.dataSync()[0] };
      accuracy!.dispose(); // kept out of minimize's scope, so not the tidy's to free
      return logs;
    });
}

/** The same steps on ONNX Runtime: rows gathered from plain arrays, the weights written back to TF.js after every epoch. */
function onnxSteps(trainer: OnnxTrainer, x: tf.Tensor, y: tf.Tensor, learningRate: number): Pick<TrainingLoop, 'step' | 'afterEpoch'> {
  const xs = x.dataSync() as Float32Array;
  const ys = Float32Array.from(y.dataSync());
  const [rowX, rowY] = [xs.length / x.shape[0], ys.length / y.shape[0]];
  return {
    async step(batch) {
      const [xb, yb] = [gatherRows(xs, rowX, batch), gatherRows(ys, rowY, batch)];
      const logs = await trainer.train(xb, [batch.length, ...x.shape.slice(1)], yb, learningRate);
      return { size: batch.length, loss: logs.loss, accuracy: logs.accuracy! };
    },
    afterEpoch: () => trainer.writeBack(),
  };
}
