// The one-call multi-task path, as trainClassifier is for one task: base, data and tasks in; a
// trained model with one head per task, evaluated per task, out. Built from the mid-level pieces
// (loadMultiTask, splitMultiTask, graftTasks, trainTasks, evaluateTasks).
import { loadBase } from '../bases/index.js';
import type { Base, HeadSpec } from '../bases/types.js';
import { loadMultiTask, type TaskColumn } from '../data/multitask/load.js';
import { splitMultiTask, type MultiTaskSplits } from '../data/multitask/split.js';
import type { Skipped } from '../data/types.js';
import type { CutSpec } from '../graft/cut.js';
import { graftTasks, type GraftedTasks, type TaskSpec } from '../graft/multitask.js';
import { evaluateTasks, trainTasks, type TaskMetrics, type TasksTrainOptions, type TasksTrainResult } from './multitask.js';
import { withSeed } from './seed.js';

export interface MultiTaskModelOptions extends TasksTrainOptions {
  base: string | Base;
  /** A manifest, nested folders or `digits-in-scenes[:COUNT]` labelled for `tasks`; or splits already loaded with their tasks. */
  data: string | { splits: MultiTaskSplits; tasks: TaskSpec[] };
  /** The tasks to read from a data spec: name, kind and (manifests) column. */
  tasks?: TaskColumn[];
  /** A layer (name or index); default `auto`, the base's usual cut (LogME ranking is for one task's labels). */
  cut?: CutSpec;
  head?: Partial<HeadSpec>;
  strict?: boolean;
  onSkip?: (s: Skipped) => void;
  onLoad?: (done: number, total: number) => void;
}

export interface TaskEvaluation {
  tasks: TaskMetrics[];
  meanAccuracy: number;
}

export interface MultiTaskModelResult {
  grafted: GraftedTasks;
  training: TasksTrainResult;
  metrics: { val: TaskEvaluation; test: TaskEvaluation };
  counts: { train: number; val: number; test: number };
}

export async function trainMultiTaskModel(o: MultiTaskModelOptions): Promise<MultiTaskModelResult> {
  const seed = o.seed ?? 0;
  const base = typeof o.base === 'string' ? await loadBase(o.base) : o.base;
  let data: { splits: MultiTaskSplits; tasks: TaskSpec[] };
  if (typeof o.data === 'string') {
    const loaded = await loadMultiTask(o.data, {
      tasks: o.tasks ?? [],
      size: base.input,
      resize: base.resize,
      strict: o.strict,
      onSkip: o.onSkip,
      onProgress: o.onLoad,
      seed,
    });
    data = { splits: splitMultiTask(loaded.set, { seed }), tasks: loaded.tasks };
  } else data = o.data;
  const { splits, tasks } = data;
  return withSeed(seed, async () => {
    const grafted = await graftTasks(base, { tasks, cut: o.cut, head: o.head });
    try {
      const training = await trainTasks(grafted, splits, { ...o, seed });
      const evalOptions = { engine: o.engine, cache: o.cache };
      const metrics = {
        val: await evaluateTasks(grafted, splits.val, evalOptions),
        test: await evaluateTasks(grafted, splits.test, evalOptions),
      };
      const counts = { train: splits.train.ids.length, val: splits.val.ids.length, test: splits.test.ids.length };
      return { grafted, training, metrics, counts };
    } catch (e) {
      grafted.model.dispose();
      throw e;
    }
  });
}
