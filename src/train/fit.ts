// One classification stage: Adam, categorical cross-entropy, shuffled batches, early stopping on
// validation loss with the best weights restored. It computes what TF.js's model.fit computes,
// op for op (the same shuffle of one index array kept across epochs, the same loss and the same
// batched validation), on graft's fit loop, so seeded runs give the weights fit gave.
import * as tf from '@tensorflow/tfjs';
import type { Callback } from '../core/callbacks.js';
import { batchRanges, EarlyStopping, fitLoop, inBatches } from './loop.js';

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
  callbacks?: readonly Callback[];
}

export interface StageResult {
  stage: string;
  epochsRun: number;
  bestEpoch: number;
  bestValLoss: number;
  seconds: number;
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
  const validate =
    validation &&
    (() => {
      const { loss, accuracy } = evaluateClassifier(model, validation[0], validation[1], o.batchSize);
      return { valLoss: loss, valAccuracy: accuracy };
    });
  // Only against validation data: the epochs' training loss is an average taken with dropout on
  // while the weights move, not comparable with an evaluation of the starting weights.
  const stopping = new EarlyStopping({
    monitor: validate ? 'valLoss' : 'loss',
    patience: o.patience,
    initial: o.keepInitial && validate ? validate() : undefined,
  });
  const optimizer = tf.train.adam(o.learningRate);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  // One index array, shuffled in place at the start of every epoch (tf.util.shuffle, seeded through Math.random).
  const order = range(0, x.shape[0]);
  try {
    const history = await fitLoop(
      model,
      {
        stage: o.stage,
        epochs: o.epochs,
        batches: () => (tf.util.shuffle(order), inBatches(order, o.batchSize)),
        step: (batch) =>
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
          }),
        validate,
      },
      [stopping, ...(o.callbacks ?? [])],
    );
    return {
      stage: o.stage,
      epochsRun: history.epochs.length,
      bestEpoch: stopping.bestEpoch,
      bestValLoss: stopping.best,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    // The optimizer's slots (Adam's moments) are not needed once the stage is over.
    optimizer.dispose();
  }
}
