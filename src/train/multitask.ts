// Multi-task training: every task's head on one shared trunk, trained jointly on graft's fit loop
// (TF.js's fit has no per-sample mask per output and no place for learned loss weights): Adam
// over the model's trainable weights (and the tasks' log σ² under uncertainty weighting),
// shuffled batches, early stopping on the validation loss with the best weights restored. Then
// the stages of the single-task path: the heads on the frozen trunk, then its top blocks.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import type { Callback } from '../core/callbacks.js';
import { usageError } from '../core/errors.js';
import { imagesOf, taskUnits } from '../data/multitask/tasks.js';
import type { MultiTaskSet, TaskKind, TaskSpec } from '../data/multitask/types.js';
import type { FeatureCache } from '../engine/feature-cache.js';
import { gatherRows } from '../engine/tensors.js';
import type { Engine } from '../engine/frozen.js';
import { stageFeatures } from '../engine/stage-features.js';
import { trainAbove } from '../graft/graft.js';
import type { GraftedTasks } from '../graft/multitask.js';
import { mulberry32 } from '../math/random.js';
import { TRAIN_DEFAULTS, type TrainBudget } from './defaults.js';
import {
  DEFAULT_TRAIN_ENGINE,
  onnxTrainerFor,
  stepVariable,
  type OnnxTrainer,
  type TrainEngine,
  type TrainEngineUsed,
} from '../engine/onnx-train.js';
import { trainStages, type StageInputs, type StageTask, type TrainResult } from './driver.js';
import { EarlyStopping, fitLoop, shuffledBatches } from './loop.js';
import { jointLoss, maskedTaskLoss, taskWeights, uncertaintyWeights, type TaskWeighting } from './multitask-loss.js';

/** Inputs and, per task in the model's output order, its targets (see maskedTaskLoss for their shapes). */
export interface MultiTaskData {
  x: tf.Tensor;
  targets: tf.Tensor[];
}

export interface MultiTaskFitOptions extends Omit<TrainBudget, 'fineTuneFactor'> {
  kinds: TaskKind[];
  /** Fixed weights per task (default all 1), or 'uncertainty' to learn them. */
  weights?: number[] | 'uncertainty';
  /** The starting weights count as epoch 0: training keeps them unless an epoch beats their validation loss. */
  keepInitial?: boolean;
  /** Named in the epochs' logs (default 'multi-task'). */
  stage?: string;
  /** Where the steps run (default: the process's; auto: ONNX Runtime where the step generator covers the model and loss). */
  trainEngine?: TrainEngine;
  callbacks?: readonly Callback[];
}

export interface MultiTaskFitResult {
  epochsRun: number;
  bestEpoch: number;
  /** What early stopping watches, at the best epoch: the tasks' validation losses summed, with their weights when fixed. */
  bestValLoss: number;
  /** Each task's validation loss at the best epoch. */
  taskValLosses: number[];
  /** The weights the tasks' losses carried at the end. */
  weights: number[];
  /** The best epoch's numbers: valLoss, and each task's as valLoss:<index> and weight:<index>. */
  metrics: Record<string, number>;
  seconds: number;
  /** Where the steps ran, and why not on ONNX Runtime when they did not. */
  trainEngine: TrainEngineUsed;
}

/** Each task's masked loss on `data`, in batches (inference). */
export function taskLosses(model: tf.LayersModel, data: MultiTaskData, kinds: TaskKind[], batchSize = 256): number[] {
  const n = data.x.shape[0];
  const sums = kinds.map(() => ({ loss: 0, labelled: 0 }));
  for (let s = 0; s < n; s += batchSize) {
    const size = Math.min(batchSize, n - s);
    tf.tidy(() => {
      const outputs = [model.predict(data.x.slice(s, size), { batchSize })].flat() as tf.Tensor[];
      kinds.forEach((kind, t) => {
        const { loss, labelled } = maskedTaskLoss(kind, data.targets[t].slice(s, size), outputs[t]);
        const count = labelled.dataSync()[0];
        sums[t].loss += loss.dataSync()[0] * count;
        sums[t].labelled += count;
      });
    });
  }
  return sums.map((x) => x.loss / Math.max(1, x.labelled));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Train `model` (outputs in the order of `o.kinds`) on `train`, stopping on `val`. Validation
 * loss is the sum of the tasks' losses, weighted by fixed weights, unweighted under learned ones
 * (so epochs compare while the weights move). Epoch logs carry each task's validation loss as
 * `valLoss:<index>` and its weight as `weight:<index>`.
 */
export async function fitMultiTask(
  model: tf.LayersModel,
  train: MultiTaskData,
  val: MultiTaskData,
  o: MultiTaskFitOptions,
): Promise<MultiTaskFitResult> {
  const p = withDefaults(TRAIN_DEFAULTS, o);
  const tasks = o.kinds.length;
  if (model.outputs.length !== tasks || train.targets.length !== tasks || val.targets.length !== tasks)
    throw usageError(
      `${model.outputs.length} outputs, ${train.targets.length} training and ${val.targets.length} validation targets for ${tasks} tasks`,
    );
  const weighting: TaskWeighting =
    o.weights === 'uncertainty' ? uncertaintyWeights(tasks) : { kind: 'fixed', weights: o.weights ?? new Array<number>(tasks).fill(1) };
  const variables = [
    ...model.trainableWeights.map((w) => w.read() as tf.Variable),
    ...(weighting.kind === 'uncertainty' ? [weighting.logVariance] : []),
  ];
  // Learned task weights (log σ² per task) train beside the model's weights, on either engine.
  const logVariance = weighting.kind === 'uncertainty' ? weighting.logVariance : undefined;
  const { trainer, used } = await onnxTrainerFor(model, o.trainEngine ?? DEFAULT_TRAIN_ENGINE, {
    optimizer: { kind: 'adam' },
    loss: {
      kind: 'masked-tasks',
      tasks: o.kinds.map((kind, t) => ({ kind, weight: weighting.kind === 'fixed' ? weighting.weights[t] : 1 })),
      ...(logVariance ? { logVariance: stepVariable(logVariance) } : {}),
    },
    seed: p.seed,
  });
  const optimizer = trainer ? undefined : tf.train.adam(p.learningRate);
  const rand = mulberry32(p.seed ?? 0);
  const started = performance.now();
  const n = train.x.shape[0];
  // Fixed weights say how much each task matters, for stopping too; learned ones move, so an
  // unweighted sum keeps epochs comparable.
  const watched = (losses: number[]) => (weighting.kind === 'fixed' ? sum(losses.map((l, t) => weighting.weights[t] * l)) : sum(losses));
  const validate = () => {
    const losses = taskLosses(model, val, o.kinds);
    const weights = taskWeights(o.kinds, weighting);
    return { valLoss: watched(losses), ...indexed('valLoss', losses), ...indexed('weight', weights) };
  };
  const stopping = new EarlyStopping({ monitor: 'valLoss', patience: p.patience, initial: o.keepInitial ? validate() : undefined });
  try {
    const history = await fitLoop(
      model,
      {
        stage: o.stage ?? 'multi-task',
        epochs: p.epochs,
        batches: () => shuffledBatches(n, p.batchSize, rand),
        ...(trainer
          ? onnxTaskSteps(trainer, train, o.kinds, p.learningRate)
          : {
              step: (batch: number[]) => {
                const idx = tf.tensor1d(batch, 'int32');
                const cost = optimizer!.minimize(
                  () => {
                    const x = tf.gather(train.x, idx);
                    const outputs = [model.apply(x, { training: true })].flat() as tf.Tensor[];
                    const losses = o.kinds.map((kind, t) => maskedTaskLoss(kind, tf.gather(train.targets[t], idx), outputs[t]).loss);
                    return jointLoss(losses, o.kinds, weighting);
                  },
                  true,
                  variables,
                )!;
                const loss = cost.dataSync()[0];
                tf.dispose([cost, idx]);
                return { size: batch.length, loss };
              },
            }),
        validate,
      },
      [stopping, ...(o.callbacks ?? [])],
    );
    const best = stopping.bestMetrics;
    return {
      epochsRun: history.epochs.length,
      bestEpoch: stopping.bestEpoch,
      bestValLoss: stopping.best,
      taskValLosses: o.kinds.map((_, t) => best[`valLoss:${t}`]),
      weights: taskWeights(o.kinds, weighting),
      metrics: best,
      seconds: (performance.now() - started) / 1000,
      trainEngine: used,
    };
  } finally {
    optimizer?.dispose();
    await trainer?.release();
    if (weighting.kind === 'uncertainty') weighting.logVariance.dispose();
  }
}

/**
 * The steps on ONNX Runtime: each task's targets as the step graph takes them (rows, zero where
 * unlabelled, and a mask), gathered per batch from plain arrays; weights back to TF.js each epoch.
 */
function onnxTaskSteps(trainer: OnnxTrainer, train: MultiTaskData, kinds: TaskKind[], learningRate: number) {
  const xs = train.x.dataSync() as Float32Array;
  const row = xs.length / train.x.shape[0];
  const targets = kinds.map((kind, t) => {
    const truth = train.targets[t];
    const n = truth.shape[0];
    const values = truth.dataSync();
    if (kind === 'classification') {
      // Class indices, -1 unlabelled → one-hot rows (zero when unlabelled).
      const k = trainer.units[t];
      const y = new Float32Array(n * k);
      const mask = new Float32Array(n);
      values.forEach((c, i) => {
        if (c >= 0) [y[i * k + c], mask[i]] = [1, 1];
      });
      return { y, mask, k };
    }
    const k = truth.shape[1]!;
    const y = Float32Array.from(values, (v) => (Number.isNaN(v) ? 0 : v));
    const mask = Float32Array.from({ length: n }, (_, i) => (values.slice(i * k, (i + 1) * k).some((v) => Number.isNaN(v)) ? 0 : 1));
    return { y, mask, k };
  });
  return {
    async step(batch: number[]) {
      const xb = gatherRows(xs, row, batch);
      const tb = targets.map(({ y, mask, k }) => ({ y: gatherRows(y, k, batch), mask: Float32Array.from(batch, (r) => mask[r]) }));
      const logs = await trainer.train(xb, [batch.length, ...train.x.shape.slice(1)], tb, learningRate);
      return { size: batch.length, loss: logs.loss };
    },
    afterEpoch: () => trainer.writeBack(),
  };
}

/** `values` as `{ '<name>:0': values[0], … }`: per-task numbers in an epoch's metrics. */
const indexed = (name: string, values: number[]) => Object.fromEntries(values.map((v, t) => [`${name}:${t}`, v]));

// ---------------------------------------------------------------------------------------------
// A grafted multi-task model on images

/** Each task's targets as maskedTaskLoss takes them, in `tasks` order. The caller disposes them. */
export function taskTargets(set: MultiTaskSet, tasks: TaskSpec[]): tf.Tensor[] {
  const n = set.ids.length;
  return tasks.map((t) => {
    const labels = set.tasks[t.name];
    if (!labels) throw usageError(`the data has no labels for task ${t.name} (tasks: ${Object.keys(set.tasks).join(', ')})`);
    if (labels.kind !== t.kind) throw usageError(`task ${t.name} is ${t.kind}, its labels are ${labels.kind}`);
    return labels.kind === 'classification' ? tf.tensor1d(labels.labels, 'int32') : tf.tensor2d(labels.targets, [n, taskUnits(t)]);
  });
}

export interface TasksTrainOptions
  extends Omit<MultiTaskFitOptions, 'kinds' | 'keepInitial' | 'stage'>, Pick<TrainBudget, 'fineTuneFactor'> {
  /**
   * Blocks at or below the cut fine-tuned jointly with the heads in stage 2, at fineTuneFactor
   * times the learning rate (default 1, as for one task; 0: heads only; 'auto' tries 1, 2, … and
   * keeps the lowest validation loss).
   */
  unfreeze?: number | 'auto';
  engine?: Engine;
  cache?: FeatureCache;
}

/**
 * Multi-task's stages: the trunk's outputs as tensors, each task's targets, fitMultiTask. Every
 * stage shuffles with the same seed (fitMultiTask's own generator), as it did before one driver ran them all.
 */
function tasksTask(
  g: GraftedTasks,
  data: { train: MultiTaskSet; val: MultiTaskSet },
  o: TasksTrainOptions,
  targets: tf.Tensor[][],
): StageTask<tf.Tensor> {
  const [train, val] = targets;
  return {
    monitor: { metric: 'valLoss', mode: 'min' },
    headBoundary: g.cut,
    keepsInitial: false,
    async inputs(stage) {
      const { features, ...rest } = await stageFeatures(
        { ...g, scratch: false },
        stage.boundary,
        [imagesOf(data.train), imagesOf(data.val)],
        {
          stage: stage.name,
          engine: o.engine,
          cache: o.cache,
          callbacks: o.callbacks,
          batchSize: 64,
        },
      );
      return { train: features[0], val: features[1], ...rest, dispose: () => tf.dispose(features) } satisfies StageInputs<tf.Tensor>;
    },
    async fit(above, x, stage) {
      const r = await fitMultiTask(
        above,
        { x: x.train, targets: train },
        { x: x.val, targets: val },
        { ...o, learningRate: stage.learningRate, kinds: g.tasks.map((t) => t.kind), keepInitial: stage.keepInitial, stage: stage.name },
      );
      return { ...r, monitor: 'valLoss', best: r.bestValLoss };
    },
  };
}

/**
 * Train a grafted multi-task model in the single-task path's stages (trainStages): the heads on
 * the frozen trunk (its outputs at the cut computed once per image), then, with `unfreeze` > 0,
 * the top blocks of the shared trunk and every head together at a tenth of the learning rate,
 * kept only if they beat the heads alone on validation. Each stage fits every task jointly
 * (fitMultiTask). `g.frozenTo` says where the kept model's training stopped.
 */
export async function trainTasks(
  g: GraftedTasks,
  data: { train: MultiTaskSet; val: MultiTaskSet },
  o: TasksTrainOptions = {},
): Promise<TrainResult> {
  const targets: tf.Tensor[][] = [];
  try {
    targets.push(taskTargets(data.train, g.tasks), taskTargets(data.val, g.tasks));
    const result = await trainStages({ ...g, scratch: false }, tasksTask(g, data, o, targets), o);
    g.frozenTo = result.trainableFrom;
    // A multi-task model stays trainable from where it was fine-tuned, as its graft.json says.
    trainAbove(g, g.frozenTo);
    return result;
  } finally {
    tf.dispose(targets.flat());
  }
}
