// One shared trunk, one head per task. Each head is the single-task head (src/graft/head.ts) with
// its layers prefixed by the task's name and its output layer named after the task, so the model's
// outputs are the tasks, in order, under their own names.
import * as tf from '@tensorflow/tfjs';
import type { Base, HeadSpec } from '../bases/types.js';
import type { TaskKind } from '../data/multitask/types.js';
import { usageError } from '../errors.js';
import { resolveCut, type CutSpec } from './cut.js';
import { ownModel, trainAbove } from './graft.js';
import { applyHead } from './head.js';

export interface TaskSpec {
  name: string;
  kind: TaskKind;
  /** Classification and multi-label: the class names. */
  classes?: string[];
  /** Regression: numbers per sample (default 1). */
  outputs?: number;
  /** Where a manifest holds its labels (default: the task's name). */
  column?: string;
}

const ACTIVATION = { classification: 'softmax', 'multi-label': 'sigmoid', regression: 'linear' } as const;
const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** Width of a task's output layer. */
export function taskUnits(t: TaskSpec): number {
  if (t.kind === 'regression') return t.outputs ?? 1;
  if (!t.classes || t.classes.length < (t.kind === 'classification' ? 2 : 1))
    throw usageError(`task ${t.name}: a ${t.kind} task needs ${t.kind === 'classification' ? 'at least 2 classes' : 'classes'}`);
  return t.classes.length;
}

export function checkTasks(tasks: TaskSpec[]): void {
  if (!tasks.length) throw usageError('a multi-task model needs at least one task');
  for (const t of tasks) {
    if (!NAME.test(t.name))
      throw usageError(`task name ${JSON.stringify(t.name)} must start with a letter and hold only letters, digits, _ and -`);
    taskUnits(t);
  }
  const dup = tasks.find((t, i) => tasks.findIndex((u) => u.name === t.name) !== i);
  if (dup) throw usageError(`task ${dup.name} is given twice`);
}

/** The heads on `features`, one output per task, named after it. */
export function applyTaskHeads(features: tf.SymbolicTensor, tasks: TaskSpec[], head: HeadSpec): tf.SymbolicTensor[] {
  checkTasks(tasks);
  return tasks.map((t) =>
    applyHead(features, head, taskUnits(t), { activation: ACTIVATION[t.kind], prefix: `${t.name}_`, outputName: t.name }),
  );
}

/** A model from `input` through a shared part ending at `features` to every task's head. */
export function multiTaskModel(
  input: tf.SymbolicTensor,
  features: tf.SymbolicTensor,
  tasks: TaskSpec[],
  head: HeadSpec,
  name = 'multi_task',
): tf.LayersModel {
  return tf.model({ inputs: input, outputs: applyTaskHeads(features, tasks, head), name });
}

/** A base cut at `cut` with one head per task: the trunk frozen, the heads trainable. */
export interface GraftedTasks {
  base: Base;
  /** input → trunk → one output per task, named after it. */
  model: tf.LayersModel;
  cut: string;
  /** The last layer left frozen: the cut, or below it once training fine-tuned the trunk's top blocks. */
  frozenTo: string;
  tasks: TaskSpec[];
  head: HeadSpec;
}

export async function graftTasks(base: Base, o: { tasks: TaskSpec[]; cut?: CutSpec; head?: Partial<HeadSpec> }): Promise<GraftedTasks> {
  checkTasks(o.tasks);
  if (!base.model) throw usageError(`${base.name} is a frozen graph or ONNX model: multi-task grafting needs a TF.js LayersModel base`);
  const cut = resolveCut(base, o.cut);
  const head: HeadSpec = { ...base.head, ...o.head };
  const model = await ownModel(base, base.model, cut, (features) => applyTaskHeads(features, o.tasks, head));
  trainAbove({ model }, cut);
  return { base, model, cut, frozenTo: cut, tasks: o.tasks, head };
}
