// graft's one fit loop. What differs between a classifier's stage, a multi-task model and domain
// adaptation is how an epoch's batches are drawn, what one step optimises and what validation
// measures: those are the loop's arguments. Everything else (epochs, batch bookkeeping, the
// callbacks, stopping) is here once. Early stopping with the best weights restored is a callback
// (EarlyStopping), as in Keras; so is progress.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import { notify, type BatchLogs, type Callback, type EpochLogs } from '../core/callbacks.js';
import { shuffle } from '../math/random.js';

export interface TrainingLoop {
  /** Named in every epoch's logs ('head', 'fine-tune', 'scratch', 'coral', …). */
  stage: string;
  epochs: number;
  /** The batches of epoch `epoch` (0-based), in order, as sample indices: called once at the start of each epoch. */
  batches(epoch: number): number[][];
  /** One optimisation step on one batch; `progress` is the fraction of all steps done before it. */
  step(batch: number[], at: { epoch: number; step: number; progress: number }): BatchLogs | Promise<BatchLogs>;
  /** After the epoch's last step, before validation: a step engine outside TF.js writes its weights back. */
  afterEpoch?(): void | Promise<void>;
  /** What the epoch's weights score (valLoss, valAccuracy, …), after its last step. */
  validate?(): Record<string, number> | Promise<Record<string, number>>;
}

export interface History {
  /** Every epoch's logs, in order. */
  epochs: EpochLogs[];
}

/**
 * Train `model` by `loop`: for each epoch, its batches through `step`, then `validate`; the
 * callbacks hear every epoch and batch begin and end. A callback stops training by setting
 * `model.stopTraining` (as TF.js's and Keras's do); it is checked after every batch.
 */
export async function fitLoop(model: tf.LayersModel, loop: TrainingLoop, callbacks: readonly Callback[] = []): Promise<History> {
  const history: History = { epochs: [] };
  model.stopTraining = false;
  await notify(callbacks, 'onTrainBegin', model, loop.stage);
  let step = 0;
  let total = 0;
  for (let epoch = 0; epoch < loop.epochs && !model.stopTraining; epoch++) {
    const started = performance.now();
    await notify(callbacks, 'onEpochBegin', epoch + 1, loop.stage);
    const batches = loop.batches(epoch);
    // Known once the first epoch is drawn: the steps every epoch takes, for schedules.
    total ||= batches.length * loop.epochs;
    const sums: Record<string, number> = {};
    let seen = 0;
    for (const [b, batch] of batches.entries()) {
      await notify(callbacks, 'onBatchBegin', b, loop.stage);
      const logs = await loop.step(batch, { epoch, step, progress: step / total });
      step++;
      for (const [k, v] of Object.entries(logs)) if (k !== 'size') sums[k] = (sums[k] ?? 0) + v * logs.size;
      seen += logs.size;
      await notify(callbacks, 'onBatchEnd', b, logs);
      // A turn for the event loop (progress output, timers), as TF.js's fit gives one.
      await tf.nextFrame();
      if (model.stopTraining) break;
    }
    await loop.afterEpoch?.();
    const { loss = NaN, ...means } = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(1, seen)]));
    const metrics = { ...means, ...(loop.validate ? await loop.validate() : {}) };
    const logs: EpochLogs = {
      stage: loop.stage,
      epoch: epoch + 1,
      epochs: loop.epochs,
      loss,
      metrics,
      seconds: (performance.now() - started) / 1000,
    };
    history.epochs.push(logs);
    await notify(callbacks, 'onEpochEnd', logs);
  }
  await notify(callbacks, 'onTrainEnd', model, loop.stage);
  return history;
}

/** [start, end) index ranges of `size` samples in batches of `batchSize` (the last may be smaller). */
export function batchRanges(size: number, batchSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < size; start += batchSize) out.push([start, Math.min(size, start + batchSize)]);
  return out;
}

/** `order` cut into batches of `batchSize`, in order. */
export const inBatches = (order: readonly number[], batchSize: number) =>
  batchRanges(order.length, batchSize).map(([s, e]) => order.slice(s, e));

/** Samples 0 … n-1 in an order drawn from `rand`, cut into batches: an epoch of shuffled minibatches. */
export const shuffledBatches = (n: number, batchSize: number, rand: () => number) =>
  inBatches(
    shuffle(
      Array.from({ length: n }, (_, i) => i),
      rand,
    ),
    batchSize,
  );

/** Each variable's value, keyed by the variable: weight lists are ordered trainable-first, which changes between stages. */
export type WeightSnapshot = Map<tf.LayerVariable, tf.Tensor>;

export function snapshotWeights(model: tf.LayersModel): WeightSnapshot {
  return new Map(model.weights.map((v) => [v, v.read().clone()]));
}

export function restoreWeights(snapshot: WeightSnapshot): void {
  snapshot.forEach((value, v) => v.write(value));
}

export const disposeSnapshot = (snapshot: WeightSnapshot | undefined) => tf.dispose([...(snapshot?.values() ?? [])]);

export interface EarlyStoppingOptions {
  /** The name in an epoch's metrics (or 'loss') to watch. */
  monitor: string;
  /** 'min' (a loss) or 'max' (an accuracy). Default 'min'. */
  mode?: 'min' | 'max';
  /** Epochs without improvement before training stops (default: never stop, only keep the best). */
  patience?: number;
  /** Put back the weights of the best epoch when training ends (default true). */
  restoreBestWeights?: boolean;
  /**
   * The starting weights' scores: they count as epoch 0, so training keeps them unless an epoch
   * beats `initial[monitor]`. Without it the first epoch with a number sets the mark.
   */
  initial?: Record<string, number>;
  /**
   * A metric that decides an exact tie of the monitor, lower better (detection: `valLoss`, as its
   * AP50 sits at exactly 0 until the box sizes are learnt, a plateau patience would stop on).
   */
  tieBreak?: string;
}

/**
 * Keras's EarlyStopping(restore_best_weights=True), which TF.js lacks: stops after `patience`
 * epochs without a strictly better `monitor`, and leaves the model with the best epoch's weights.
 */
export class EarlyStopping implements Callback {
  /** The best score so far (±Infinity before any). */
  best: number;
  /** 0 while the starting weights (or nothing) are the best. */
  bestEpoch = 0;
  /** Every metric of the best epoch (the initial scores when those are still the best). */
  bestMetrics: Record<string, number>;
  private readonly o: Required<Omit<EarlyStoppingOptions, 'initial' | 'tieBreak'>>;
  private readonly tieBreak?: string;
  private weights?: WeightSnapshot;
  private model?: tf.LayersModel;

  constructor(options: EarlyStoppingOptions) {
    this.o = withDefaults({ mode: 'min', patience: Infinity, restoreBestWeights: true } as const, options);
    this.best = options.initial?.[options.monitor] ?? (this.o.mode === 'min' ? Infinity : -Infinity);
    this.bestMetrics = { ...options.initial };
    this.tieBreak = options.tieBreak;
  }

  onTrainBegin(model: tf.LayersModel): void {
    this.model = model;
    if (Object.keys(this.bestMetrics).length && this.o.restoreBestWeights) this.weights = snapshotWeights(model);
  }

  onEpochEnd(e: EpochLogs): void {
    const value = this.o.monitor === 'loss' ? e.loss : e.metrics[this.o.monitor];
    const tie = this.tieBreak;
    const better =
      (this.o.mode === 'min' ? value < this.best : value > this.best) ||
      (tie !== undefined && value === this.best && e.metrics[tie] < (this.bestMetrics[tie] ?? Infinity));
    if (better) {
      this.best = value;
      this.bestEpoch = e.epoch;
      this.bestMetrics = { loss: e.loss, ...e.metrics };
      if (this.o.restoreBestWeights) {
        disposeSnapshot(this.weights);
        this.weights = snapshotWeights(this.model!);
      }
    } else if (e.epoch - this.bestEpoch >= this.o.patience) {
      this.model!.stopTraining = true;
    }
  }

  onTrainEnd(): void {
    if (this.weights) restoreWeights(this.weights);
    disposeSnapshot(this.weights);
    this.weights = undefined;
  }
}

/**
 * Stops training once `seconds` have passed since it began (TensorFlow Addons' TimeStopping): a
 * run given the same wall-clock budget as another, checked after every batch.
 */
export class TimeStopping implements Callback {
  private started = 0;
  private model?: tf.LayersModel;
  /** Whether the budget ran out before the epochs did. */
  stopped = false;

  constructor(readonly seconds: number) {}

  onTrainBegin(model: tf.LayersModel): void {
    this.model = model;
    this.started = performance.now();
  }

  onBatchEnd(): void {
    if (this.model && (performance.now() - this.started) / 1000 >= this.seconds) {
      this.model.stopTraining = true;
      this.stopped = true;
    }
  }
}
