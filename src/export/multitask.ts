// A trained multi-task model on disk: one plain TF.js LayersModel with an output per task (named
// after it) and graft.json listing the tasks, their kinds and labels, and the preprocessing, so a
// client without graft can run it.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Normalize } from '../bases/types.js';
import type { ImageSize, ResizeMode } from '../data/types.js';
import type { GraftedTasks, TaskSpec } from '../graft/multitask.js';
import type { TasksModel } from '../train/multitask.js';
import { usageError } from '../errors.js';
import { readModelMeta } from './trained.js';
import { writeDirAtomically } from '../io/atomic.js';
import { fileHandler } from '../io/layers-files.js';
import { GRAFT_VERSION } from '../version.js';

export interface TasksGraftJson {
  kind: 'multi-task';
  /** In the model's output order. */
  tasks: TaskSpec[];
  input: ImageSize;
  normalize: Normalize;
  resize: ResizeMode;
  base: string;
  cut: string;
  /** The last layer training left frozen (the cut, or below it when the top blocks were fine-tuned). */
  frozenTo: string;
  metrics: Record<string, unknown>;
  training: Record<string, unknown>;
  versions: { graft: string; tfjs: string };
}

export async function saveTasks(
  g: GraftedTasks,
  out: string,
  extra: { force?: boolean; metrics?: Record<string, unknown>; training?: Record<string, unknown> } = {},
): Promise<void> {
  const meta: TasksGraftJson = {
    kind: 'multi-task',
    tasks: g.tasks,
    input: g.base.input,
    normalize: g.base.normalize,
    resize: g.base.resize,
    base: g.base.name,
    cut: g.cut,
    frozenTo: g.frozenTo,
    metrics: extra.metrics ?? {},
    training: extra.training ?? {},
    versions: { graft: GRAFT_VERSION, tfjs: tf.version.tfjs },
  };
  await writeDirAtomically(out, !!extra.force, async (dir) => {
    await g.model.save(fileHandler(join(dir, 'model.json')));
    await writeFile(join(dir, 'graft.json'), JSON.stringify(meta, null, 2) + '\n');
  });
}

/** Whether `dir` holds a multi-task model (graft.json of kind "multi-task"). */
export async function isTasksModel(dir: string): Promise<boolean> {
  try {
    return (JSON.parse(await readFile(join(dir, 'graft.json'), 'utf8')) as { kind?: string }).kind === 'multi-task';
  } catch {
    return false;
  }
}

export type LoadedTasksModel = TasksModel & { meta: TasksGraftJson; normalize: Normalize };

export async function loadTasks(dir: string): Promise<LoadedTasksModel> {
  const meta = await readModelMeta<TasksGraftJson>(dir);
  if (meta.kind !== 'multi-task') throw usageError(`${dir} is not a multi-task model`);
  const model = await tf.loadLayersModel(fileHandler(join(dir, 'model.json')));
  return { model, tasks: meta.tasks, frozenTo: meta.frozenTo ?? meta.cut, normalize: meta.normalize, meta };
}
