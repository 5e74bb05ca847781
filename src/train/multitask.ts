// The fit loop of a multi-task model: graft's own, because TF.js's fit has no per-sample mask per
// output and no place for learned loss weights. Adam over the model's trainable weights (and the
// tasks' log σ² under uncertainty weighting), shuffled batches, early stopping on the validation
// loss with the best weights restored, as fitStage does for one task.
import * as tf from '@tensorflow/tfjs';
import type { MultiTaskSet, TaskKind } from '../data/multitask/types.js';
import { mulberry32, shuffle } from '../data/random.js';
import type { ImageSet } from '../data/types.js';
import { usageError } from '../errors.js';
import { classificationMetrics, type Metrics } from '../evaluate/metrics.js';
import { taskUnits, type GraftedTasks, type TaskSpec } from '../graft/multitask.js';
import { modelAbove } from '../graft/split.js';
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
  onEpoch?: (e: { epoch: number; epochs: number; loss: number; valLoss: number; taskValLosses: number[]; weights: number[] }) => void;
}

export interface MultiTaskFitResult {
  epochsRun: number;
  bestEpoch: number;
  /** Sum of the tasks' unweighted validation losses at the best epoch (what early stopping watches). */
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
 * loss is the unweighted sum of the tasks' losses, so epochs compare under learned weights too.
 */
export async function fitMultiTask(model: tf.LayersModel, train: MultiTaskData, val: MultiTaskData, o: MultiTaskFitOptions): Promise<MultiTaskFitResult> {
  const p = { ...TRAIN_DEFAULTS, ...o };
  const tasks = o.kinds.length;
  if (model.outputs.length !== tasks || train.targets.length !== tasks || val.targets.length !== tasks) throw usageError(`${model.outputs.length} outputs, ${train.targets.length} training and ${val.targets.length} validation targets for ${tasks} tasks`);
  const weighting: TaskWeighting = o.weights === 'uncertainty' ? uncertaintyWeights(tasks) : { kind: 'fixed', weights: o.weights ?? new Array<number>(tasks).fill(1) };
  const variables = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...(weighting.kind === 'uncertainty' ? [weighting.logVariance] : [])];
  const optimizer = tf.train.adam(p.learningRate);
  const rand = mulberry32(p.seed ?? 0);
  const started = performance.now();
  const n = train.x.shape[0];
  const snapshot = () => model.getWeights().map((w) => w.clone());
  let best = { valLoss: Infinity, epoch: 0, taskValLosses: [] as number[], weights: snapshot() };
  let epochsRun = 0;
  try {
    for (let epoch = 1; epoch <= p.epochs; epoch++) {
      epochsRun = epoch;
      const order = shuffle(Array.from({ length: n }, (_, i) => i), rand);
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
      const valLoss = sum(taskValLosses);
      o.onEpoch?.({ epoch, epochs: p.epochs, loss: lossSum / n, valLoss, taskValLosses, weights: taskWeights(o.kinds, weighting) });
      if (valLoss < best.valLoss) {
        tf.dispose(best.weights);
        best = { valLoss, epoch, taskValLosses, weights: snapshot() };
      } else if (epoch - best.epoch >= p.patience) break;
    }
    model.setWeights(best.weights);
    return { epochsRun, bestEpoch: best.epoch, bestValLoss: best.valLoss, taskValLosses: best.taskValLosses, weights: taskWeights(o.kinds, weighting), seconds: (performance.now() - started) / 1000 };
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

export interface TasksTrainResult extends MultiTaskFitResult {
  featureSeconds: number;
}

/**
 * Train a grafted multi-task model's heads on its frozen trunk: the trunk's outputs at the cut
 * computed once per image, then every head fitted jointly on them (fitMultiTask).
 */
/** The frozen trunk's outputs at the cut for each set, on the single-task path's frozen part (ONNX Runtime when it loads, the feature cache when given). */
async function trunkFeatures(g: GraftedTasks, sets: MultiTaskSet[], o: { engine?: Engine; cache?: FeatureCache; onFeatures?: (done: number, total: number) => void }): Promise<tf.Tensor[]> {
  const part = await frozenPart(g, g.cut, o.engine);
  const out: tf.Tensor[] = [];
  try {
    for (const [i, set] of sets.entries()) {
      out.push((await extractFeatures(part, imagesOf(set), { normalize: g.base.normalize, batchSize: 64, cache: o.cache, onBatch: i === 0 ? o.onFeatures : undefined })).features);
    }
    return out;
  } catch (e) {
    tf.dispose(out);
    throw e;
  } finally {
    await part.release?.();
  }
}

export async function trainTasks(
  g: GraftedTasks,
  data: { train: MultiTaskSet; val: MultiTaskSet },
  o: Omit<MultiTaskFitOptions, 'kinds'> & { engine?: Engine; cache?: FeatureCache; onFeatures?: (done: number, total: number) => void } = {},
): Promise<TasksTrainResult> {
  const t0 = performance.now();
  const [x, xVal] = await trunkFeatures(g, [data.train, data.val], o);
  const featureSeconds = (performance.now() - t0) / 1000;
  const above = modelAbove(g.model, g.cut);
  const [targets, valTargets] = [taskTargets(data.train, g.tasks), taskTargets(data.val, g.tasks)];
  try {
    const r = await fitMultiTask(above, { x, targets }, { x: xVal, targets: valTargets }, { ...o, kinds: g.tasks.map((t) => t.kind) });
    return { ...r, featureSeconds };
  } finally {
    tf.dispose([x, xVal, ...targets, ...valTargets]);
    // Re-applying layers (modelAbove) counts as a use that dispose must release; the shared
    // weights stay with the graft.
    above.dispose();
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

/**
 * Every task's metrics on `set`, and their aggregate (the mean accuracy over the tasks that have
 * one). The trunk runs as in training (its frozen part, cached), the heads on its outputs.
 */
export async function evaluateTasks(g: GraftedTasks, set: MultiTaskSet, o: { engine?: Engine; cache?: FeatureCache } = {}): Promise<{ tasks: TaskMetrics[]; meanAccuracy: number }> {
  const [x] = await trunkFeatures(g, [set], o);
  const above = modelAbove(g.model, g.cut);
  const outputs = tf.tidy(() => [above.predict(x, { batchSize: 256 })].flat() as tf.Tensor[]);
  x.dispose();
  above.dispose();
  try {
    const tasks = g.tasks.map((t, k): TaskMetrics => {
      const labels = set.tasks[t.name];
      const p = outputs[k].arraySync() as number[][];
      if (labels.kind === 'classification') {
        const rows = Array.from(labels.labels.keys()).filter((i) => labels.labels[i] >= 0);
        const predicted = rows.map((i) => p[i].indexOf(Math.max(...p[i])));
        const metrics = classificationMetrics(rows.map((i) => labels.labels[i]), predicted, labels.classes);
        return { task: t.name, kind: t.kind, n: rows.length, accuracy: metrics.accuracy, macroF1: metrics.macroF1, metrics };
      }
      const units = taskUnits(t);
      const rows = Array.from({ length: set.ids.length }, (_, i) => i).filter((i) => !Number.isNaN(labels.targets[i * units]));
      const truth = (i: number, j: number) => labels.targets[i * units + j];
      if (labels.kind === 'multi-label') {
        const exact = rows.filter((i) => p[i].every((q, j) => (q >= 0.5 ? 1 : 0) === truth(i, j))).length;
        return { task: t.name, kind: t.kind, n: rows.length, accuracy: exact / Math.max(1, rows.length) };
      }
      const se = rows.reduce((a, i) => a + p[i].reduce((b, q, j) => b + (q - truth(i, j)) ** 2, 0) / units, 0);
      return { task: t.name, kind: t.kind, n: rows.length, mse: se / Math.max(1, rows.length) };
    });
    const accuracies = tasks.flatMap((t) => (t.accuracy === undefined ? [] : [t.accuracy]));
    return { tasks, meanAccuracy: accuracies.reduce((a, b) => a + b, 0) / Math.max(1, accuracies.length) };
  } finally {
    tf.dispose(outputs);
  }
}
