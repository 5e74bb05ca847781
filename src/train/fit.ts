// One training stage: Adam, cross-entropy, early stopping on validation loss with the best
// weights restored (Keras's EarlyStopping(restore_best_weights=True), which TF.js lacks).
import * as tf from '@tensorflow/tfjs';

export interface EpochInfo {
  stage: string;
  epoch: number;
  epochs: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  seconds: number;
}

export interface FitOptions {
  stage: string;
  epochs: number;
  learningRate: number;
  batchSize: number;
  /** Epochs without a better validation loss before stopping. */
  patience: number;
  /** The weights the model starts with count as epoch 0: training keeps them unless an epoch beats their validation loss (with validation data only). */
  keepInitial?: boolean;
  onEpoch?: (e: EpochInfo) => void;
}

export interface StageResult {
  stage: string;
  epochsRun: number;
  bestEpoch: number;
  bestValLoss: number;
  seconds: number;
}

/** Epoch logs may hold numbers or scalars depending on the TF.js code path. */
const num = (v: number | tf.Scalar | undefined) => (v === undefined ? NaN : typeof v === 'number' ? v : v.dataSync()[0]);

class RestoreBest extends tf.Callback {
  best = Infinity;
  bestEpoch = 0;
  epochsRun = 0;
  private weights: tf.Tensor[] | null = null;
  private wait = 0;
  private started = 0;

  constructor(private opts: FitOptions) {
    super();
  }

  async onEpochBegin(): Promise<void> {
    this.started = performance.now();
  }

  async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    this.epochsRun = epoch + 1;
    // Without validation data, the training loss is what is watched.
    const valLoss = num(logs?.val_loss ?? logs?.loss);
    this.opts.onEpoch?.({
      stage: this.opts.stage,
      epoch: epoch + 1,
      epochs: this.opts.epochs,
      loss: num(logs?.loss),
      accuracy: num(logs?.acc),
      valLoss,
      valAccuracy: num(logs?.val_acc),
      seconds: (performance.now() - this.started) / 1000,
    });
    if (valLoss < this.best) {
      this.best = valLoss;
      this.bestEpoch = epoch + 1;
      this.wait = 0;
      this.weights?.forEach((w) => w.dispose());
      this.weights = this.model.getWeights().map((w) => w.clone());
    } else if (++this.wait >= this.opts.patience) {
      this.model.stopTraining = true;
    }
  }

  /** Record the starting weights as the best so far, at `loss`. */
  startFrom(model: tf.LayersModel, loss: number): void {
    this.best = loss;
    this.weights = model.getWeights().map((w) => w.clone());
  }

  restore(model: tf.LayersModel): void {
    if (this.weights) model.setWeights(this.weights);
  }

  dispose(): void {
    this.weights?.forEach((w) => w.dispose());
    this.weights = null;
  }
}

export async function fitStage(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  val: [tf.Tensor, tf.Tensor] | undefined,
  opts: FitOptions,
): Promise<StageResult> {
  const started = performance.now();
  model.compile({ optimizer: tf.train.adam(opts.learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const best = new RestoreBest(opts);
  const validation = val && val[0].shape[0] > 0 ? val : undefined;
  try {
    // Only against validation data: the epochs' training loss is an average taken with dropout on
    // while the weights move, not comparable with an evaluation of the starting weights.
    if (opts.keepInitial && validation) {
      const scores = [model.evaluate(validation[0], validation[1], { batchSize: opts.batchSize })].flat();
      best.startFrom(model, num(scores[0]));
      tf.dispose(scores);
    }
    await model.fit(x, y, {
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      validationData: validation,
      shuffle: true,
      verbose: 0,
      callbacks: [best],
    });
    best.restore(model);
  } finally {
    best.dispose();
    // The optimizer's slots (Adam's moments) are not needed once the stage is over.
    model.optimizer.dispose();
  }
  return {
    stage: opts.stage,
    epochsRun: best.epochsRun,
    bestEpoch: best.bestEpoch,
    bestValLoss: best.best,
    seconds: (performance.now() - started) / 1000,
  };
}
