// A multi-task model judged task by task: each task on the samples labelled for it (accuracy and
// macro-F1 for a classification, exact-match accuracy for multi-label, mean squared error for a
// regression), and the mean accuracy over the tasks that have one.
import * as tf from '@tensorflow/tfjs';
import type { Normalize } from '../bases/types.js';
import { usageError } from '../core/errors.js';
import { imagesOf, taskUnits } from '../data/multitask/tasks.js';
import type { MultiTaskSet, TaskKind, TaskSpec } from '../data/multitask/types.js';
import type { FeatureCache } from '../engine/feature-cache.js';
import { extractFeatures } from '../engine/features.js';
import { withFrozenPart, type Engine } from '../engine/frozen.js';
import type { GraftedTasks } from '../graft/multitask.js';
import { modelAbove } from '../graft/split.js';
import { mean } from '../math/stats.js';
import { argmaxRows, classificationMetrics, type Metrics } from './metrics.js';

/** What evaluation needs of a multi-task model: a grafted one or one loaded from disk (its preprocessing then given). */
export type TasksModel = Pick<GraftedTasks, 'model' | 'tasks' | 'frozenTo'> &
  ({ base: GraftedTasks['base']; normalize?: undefined } | { normalize: Normalize; base?: undefined });

export interface TaskEvaluation {
  tasks: TaskMetrics[];
  /** Mean accuracy over the tasks that have one and a labelled sample; NaN when none has. */
  meanAccuracy: number;
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
  o: { engine?: Engine; cache?: FeatureCache } = {},
): Promise<tf.Tensor[]> {
  const x = await withFrozenPart(
    g,
    g.frozenTo,
    o.engine,
    async (part) => (await extractFeatures(part, imagesOf(set), { normalize: g.base?.normalize ?? g.normalize!, cache: o.cache })).features,
  );
  const above = modelAbove(g.model, g.frozenTo);
  try {
    return tf.tidy(() => [above.predict(x, { batchSize: 256 })].flat() as tf.Tensor[]);
  } finally {
    x.dispose();
    above.dispose();
  }
}

/**
 * Every task's metrics from its outputs (in `tasks` order) on `set`, and their aggregate (the mean
 * accuracy over the tasks that have one and a labelled sample).
 */
export function taskMetrics(tasks: TaskSpec[], set: MultiTaskSet, outputs: tf.Tensor[]): TaskEvaluation {
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
  return { tasks: metrics, meanAccuracy: accuracies.length ? mean(accuracies) : NaN };
}

/**
 * Every task's metrics on `set` (classification labels in the task's class order; see
 * relabelTasks), and their aggregate. The trunk runs as in training (its frozen part, cached).
 */
export async function evaluateTasks(
  g: TasksModel,
  set: MultiTaskSet,
  o: { engine?: Engine; cache?: FeatureCache } = {},
): Promise<TaskEvaluation> {
  const outputs = await predictTasks(g, set, o);
  try {
    return taskMetrics(g.tasks, set, outputs);
  } finally {
    tf.dispose(outputs);
  }
}
