// The fit loop of a multi-task model: graft's own, because TF.js's fit has no per-sample mask per
// output and no place for learned loss weights. Adam over the model's trainable weights (and the
// tasks' log σ² under uncertainty weighting), shuffled batches, early stopping on the validation
// loss with the best weights restored, as fitStage does for one task.
import * as tf from '@tensorflow/tfjs';
import type { MultiTaskSet, TaskKind } from '../data/multitask/types.js';
import { mulberry32, shuffle } from '../data/random.js';
import type { ImageSet } from '../data/types.js';
import { usageError } from '../errors.js';
import { argmaxRows, classificationMetrics, type Metrics } from '../evaluate/metrics.js';
import { taskUnits, type GraftedTasks, type TaskSpec } from '../graft/multitask.js';
import { trainAbove, unfreezeBoundary } from '../graft/graft.js';
import { modelAbove } from '../graft/split.js';
import type { Normalize } from '../bases/types.js';
import type { FeatureCache } from './feature-cache.js';
import { extractFeatures } from './features.js';
import { frozenPart, type Engine } from './frozen.js';
import { jointLoss, maskedTaskLoss, taskWeights, uncertaintyWeights, type TaskWeighting } from './multitask-loss.js';
import { TRAIN_DEFAULTS } from './train.js';

/** Inputs and, per task in the model's output order, its targets (see maskedTaskLoss for their shapes). */
export interface MultiTaskData {
  x: tf.Tensor;
  targets: tf.Tensor[];
}

export interface MultiTaskFitOptions {
  kinds: TaskKind[];
  /** Fixed weights per task (default all 1), or 'uncertainty' to learn them. */
  weights?: number[] | 'uncertainty';
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  seed?: number;
  /** The starting weights count as epoch 0: training keeps them unless an epoch beats their validation loss. */
  keepInitial?: boolean;
  onEpoch?: (e: { epoch: number; epochs: number; loss: number; valLoss: number; taskValLosses: number[]; weights: number[] }) => void;
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
  seconds: number;
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
 * (so epochs compare while the weights move).
 */
export async function fitMultiTask(
  model: tf.LayersModel,
  train: MultiTaskData,
  val: MultiTaskData,
  o: MultiTaskFitOptions,
): Promise<MultiTaskFitResult> {
  const p = { ...TRAIN_DEFAULTS, ...o };
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
  const optimizer = tf.train.adam(p.learningRate);
  const rand = mulberry32(p.seed ?? 0);
  const started = performance.now();
  const n = train.x.shape[0];
  const snapshot = () => model.getWeights().map((w) => w.clone());
  // Fixed weights say how much each task matters, for stopping too; learned ones move, so an
  // unweighted sum keeps epochs comparable.
  const watched = (losses: number[]) => (weighting.kind === 'fixed' ? sum(losses.map((l, t) => weighting.weights[t] * l)) : sum(losses));
  const initial = o.keepInitial ? taskLosses(model, val, o.kinds) : [];
  let best = { valLoss: o.keepInitial ? watched(initial) : Infinity, epoch: 0, taskValLosses: initial, weights: snapshot() };
  let epochsRun = 0;
  try {
    for (let epoch = 1; epoch <= p.epochs; epoch++) {
      epochsRun = epoch;
      const order = shuffle(
        Array.from({ length: n }, (_, i) => i),
        rand,
      );
      let lossSum = 0;
      for (let s = 0; s < n; s += p.batchSize) {
        const idx = tf.tensor1d(order.slice(s, s + p.batchSize), 'int32');
        const cost = optimizer.minimize(
          () => {
            const x = tf.gather(train.x, idx);
            const outputs = [model.apply(x, { training: true })].flat() as tf.Tensor[];
            const losses = o.kinds.map((kind, t) => maskedTaskLoss(kind, tf.gather(train.targets[t], idx), outputs[t]).loss);
            return jointLoss(losses, o.kinds, weighting);
          },
          true,
          variables,
        );
        lossSum += cost!.dataSync()[0] * Math.min(p.batchSize, n - s);
        tf.dispose([cost!, idx]);
        await tf.nextFrame();
      }
      const taskValLosses = taskLosses(model, val, o.kinds);
      const valLoss = watched(taskValLosses);
      o.onEpoch?.({ epoch, epochs: p.epochs, loss: lossSum / n, valLoss, taskValLosses, weights: taskWeights(o.kinds, weighting) });
      if (valLoss < best.valLoss) {
        tf.dispose(best.weights);
        best = { valLoss, epoch, taskValLosses, weights: snapshot() };
      } else if (epoch - best.epoch >= p.patience) break;
    }
    model.setWeights(best.weights);
    return {
      epochsRun,
      bestEpoch: best.epoch,
      bestValLoss: best.valLoss,
      taskValLosses: best.taskValLosses,
      weights: taskWeights(o.kinds, weighting),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    tf.dispose(best.weights);
    optimizer.dispose();
    if (weighting.kind === 'uncertainty') weighting.logVariance.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// A grafted multi-task model on images

/** The images of a multi-task set as an ImageSet (labels unused), for the image pipeline's pieces. */
export function imagesOf(set: MultiTaskSet): ImageSet {
  return { classes: [], size: set.size, pixels: set.pixels, labels: new Int32Array(set.ids.length), ids: set.ids };
}

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

/** The trunk's outputs at `boundary` for each set, on the single-task path's frozen part (ONNX Runtime when it loads, the feature cache when given). */
async function trunkFeatures(
  g: TasksModel,
  boundary: string,
  sets: MultiTaskSet[],
  o: { engine?: Engine; cache?: FeatureCache; onFeatures?: (done: number, total: number) => void },
): Promise<tf.Tensor[]> {
  const part = await frozenPart(g, boundary, o.engine);
  const out: tf.Tensor[] = [];
  try {
    for (const [i, set] of sets.entries()) {
      out.push(
        (
          await extractFeatures(part, imagesOf(set), {
            normalize: normalizeOf(g),
            batchSize: 64,
            cache: o.cache,
            onBatch: i === 0 ? o.onFeatures : undefined,
          })
        ).features,
      );
    }
    return out;
  } catch (e) {
    tf.dispose(out);
    throw e;
  } finally {
    await part.release?.();
  }
}

/** What evaluation and training need of a multi-task model: a grafted one or one loaded from disk. */
export type TasksModel = Pick<GraftedTasks, 'model' | 'tasks' | 'frozenTo'> &
  ({ base: GraftedTasks['base'] } | { normalize: Normalize; base?: undefined });
const normalizeOf = (g: TasksModel): Normalize => (g.base ? g.base.normalize : g.normalize);

export interface TasksTrainOptions extends Omit<MultiTaskFitOptions, 'kinds' | 'keepInitial'> {
  /** Blocks at or below the cut fine-tuned jointly with the heads in stage 2, at a tenth of the learning rate (default 1, as for one task; 0: heads only). */
  unfreeze?: number;
  engine?: Engine;
  cache?: FeatureCache;
  onFeatures?: (done: number, total: number) => void;
  onStage?: (stage: TasksStage) => void;
  /** After each stage, with the model as that stage left it (e.g. to evaluate the heads alone before fine-tuning). */
  onStageEnd?: (stage: TasksStage) => void | Promise<void>;
}

export type TasksStage = 'heads' | 'fine-tune';

export interface TasksTrainResult {
  stages: (MultiTaskFitResult & { stage: TasksStage; boundary: string; featureSeconds: number })[];
  /** Blocks fine-tuned (0 when only the heads trained). */
  unfreeze: number;
  /** The last layer left frozen. */
  frozenTo: string;
  seconds: number;
}

/**
 * Train a grafted multi-task model in the single-task path's stages: the heads on the frozen
 * trunk (its outputs at the cut computed once per image), then, with `unfreeze` > 0, the top
 * blocks of the shared trunk and every head together at a tenth of the learning rate, kept only
 * if they beat the heads alone on validation. Each stage fits every task jointly (fitMultiTask).
 */
export async function trainTasks(
  g: GraftedTasks,
  data: { train: MultiTaskSet; val: MultiTaskSet },
  o: TasksTrainOptions = {},
): Promise<TasksTrainResult> {
  const unfreeze = o.unfreeze ?? TRAIN_DEFAULTS.unfreeze;
  if (!(Number.isInteger(unfreeze) && unfreeze >= 0)) throw usageError(`unfreeze must be a whole number >= 0, got ${unfreeze}`);
  const started = performance.now();
  const learningRate = o.learningRate ?? TRAIN_DEFAULTS.learningRate;
  const stages: TasksTrainResult['stages'] = [];
  const targets = taskTargets(data.train, g.tasks);
  const valTargets: tf.Tensor[] = [];
  const run = async (stage: TasksStage, boundary: string, lr: number) => {
    o.onStage?.(stage);
    trainAbove(g, boundary);
    const t0 = performance.now();
    const [x, xVal] = await trunkFeatures(g, boundary, [data.train, data.val], o);
    const featureSeconds = (performance.now() - t0) / 1000;
    let above: tf.LayersModel | undefined;
    try {
      above = modelAbove(g.model, boundary);
      const r = await fitMultiTask(
        above,
        { x, targets },
        { x: xVal, targets: valTargets },
        { ...o, learningRate: lr, kinds: g.tasks.map((t) => t.kind), keepInitial: stage === 'fine-tune' },
      );
      stages.push({ ...r, stage, boundary, featureSeconds });
      if (stage === 'fine-tune' && r.bestEpoch > 0) g.frozenTo = boundary;
      await o.onStageEnd?.(stage);
      return r;
    } finally {
      tf.dispose([x, xVal]);
      // Re-applying layers (modelAbove) counts as a use that dispose must release; the shared
      // weights stay with the graft.
      above?.dispose();
    }
  };
  try {
    valTargets.push(...taskTargets(data.val, g.tasks));
    await run('heads', g.cut, learningRate);
    const boundary = unfreeze > 0 ? unfreezeBoundary({ ...g, classes: [], scratch: false }, unfreeze) : g.cut;
    if (boundary !== g.cut) {
      const r = await run('fine-tune', boundary, learningRate / 10);
      // The heads' weights win when no fine-tuning epoch beat them: the trunk is then unchanged.
      if (r.bestEpoch === 0) trainAbove(g, g.cut);
    }
    return { stages, unfreeze: g.frozenTo === g.cut ? 0 : unfreeze, frozenTo: g.frozenTo, seconds: (performance.now() - started) / 1000 };
  } finally {
    tf.dispose([...targets, ...valTargets]);
  }
}

/** Per task: the core's metrics for a classification task (on its labelled samples only). */
export interface TaskMetrics {
  task: string;
  kind: TaskKind;
  /** Samples labelled for the task. */
  n: number;
  /** Classification: accuracy; multi-label: the fraction of samples with every label right. */
  accuracy?: number;
  macroF1?: number;
  metrics?: Metrics;
  /** Regression: mean squared error. */
  mse?: number;
}

/** Each task's outputs on every image of `set`: the frozen part (cached), then the rest in TF.js. */
export async function predictTasks(
  g: TasksModel,
  set: MultiTaskSet,
  o: { engine?: Engine; cache?: FeatureCache; onFeatures?: (done: number, total: number) => void } = {},
): Promise<tf.Tensor[]> {
  const [x] = await trunkFeatures(g, g.frozenTo, [set], o);
  const above = modelAbove(g.model, g.frozenTo);
  try {
    return tf.tidy(() => [above.predict(x, { batchSize: 256 })].flat() as tf.Tensor[]);
  } finally {
    x.dispose();
    above.dispose();
  }
}

/** Every task's metrics from its outputs (in `tasks` order) on `set`, and their aggregate (the mean accuracy over the tasks that have one and a labelled sample). */
export function taskMetrics(tasks: TaskSpec[], set: MultiTaskSet, outputs: tf.Tensor[]): { tasks: TaskMetrics[]; meanAccuracy: number } {
  const n = set.ids.length;
  const metrics = tasks.map((t, k): TaskMetrics => {
    const labels = set.tasks[t.name];
    if (!labels) throw usageError(`the data has no labels for task ${t.name} (tasks: ${Object.keys(set.tasks).join(', ')})`);
    if (labels.kind !== t.kind) throw usageError(`task ${t.name} is ${t.kind}, its labels are ${labels.kind}`);
    const units = taskUnits(t);
    const p = outputs[k].dataSync();
    if (labels.kind === 'classification') {
      const rows = Array.from(labels.labels.keys()).filter((i) => labels.labels[i] >= 0);
      const predicted = argmaxRows(p, units);
      const metrics = classificationMetrics(
        rows.map((i) => labels.labels[i]),
        rows.map((i) => predicted[i]),
        labels.classes,
      );
      return { task: t.name, kind: t.kind, n: rows.length, accuracy: metrics.accuracy, macroF1: metrics.macroF1, metrics };
    }
    const rows = Array.from({ length: n }, (_, i) => i).filter((i) => !Number.isNaN(labels.targets[i * units]));
    const at = (i: number, j: number) => i * units + j;
    if (labels.kind === 'multi-label') {
      const exact = rows.filter((i) =>
        Array.from({ length: units }, (_, j) => j).every((j) => (p[at(i, j)] >= 0.5 ? 1 : 0) === labels.targets[at(i, j)]),
      ).length;
      return { task: t.name, kind: t.kind, n: rows.length, accuracy: exact / Math.max(1, rows.length) };
    }
    const se = rows.reduce(
      (a, i) =>
        a + Array.from({ length: units }, (_, j) => (p[at(i, j)] - labels.targets[at(i, j)]) ** 2).reduce((b, c) => b + c, 0) / units,
      0,
    );
    return { task: t.name, kind: t.kind, n: rows.length, mse: se / Math.max(1, rows.length) };
  });
  // Tasks with no labelled sample here have no accuracy to average; NaN when no task has one.
  const accuracies = metrics.flatMap((t) => (t.accuracy === undefined || t.n === 0 ? [] : [t.accuracy]));
  return { tasks: metrics, meanAccuracy: accuracies.length ? sum(accuracies) / accuracies.length : NaN };
}

/**
 * Every task's metrics on `set` (classification labels in the task's class order; see
 * relabelTasks), and their aggregate. The trunk runs as in training (its frozen part, cached).
 */
export async function evaluateTasks(
  g: TasksModel,
  set: MultiTaskSet,
  o: { engine?: Engine; cache?: FeatureCache; onFeatures?: (done: number, total: number) => void } = {},
): Promise<{ tasks: TaskMetrics[]; meanAccuracy: number }> {
  const outputs = await predictTasks(g, set, o);
  try {
    return taskMetrics(g.tasks, set, outputs);
  } finally {
    tf.dispose(outputs);
  }
}
