// One shared trunk, one head per task. Each head is the single-task head (src/graft/head.ts) with
// its layers prefixed by the task's name and its output layer named after the task, so the model's
// outputs are the tasks, in order, under their own names.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import type { HeadSpec, LayersBase } from '../bases/types.js';
import { checkTasks, taskUnits } from '../data/multitask/tasks.js';
import type { TaskSpec } from '../data/multitask/types.js';
import { resolveCut, type CutSpec } from './cut.js';
import { ownModel, trainAbove } from './graft.js';
import { applyHead } from './head.js';

const ACTIVATION = { classification: 'softmax', 'multi-label': 'sigmoid', regression: 'linear' } as const;

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
  base: LayersBase;
  /** input → trunk → one output per task, named after it. */
  model: tf.LayersModel;
  cut: string;
  /** The last layer left frozen: the cut, or below it once training fine-tuned the trunk's top blocks. */
  frozenTo: string;
  tasks: TaskSpec[];
  head: HeadSpec;
}

export async function graftTasks(
  base: LayersBase,
  o: { tasks: TaskSpec[]; cut?: CutSpec; head?: Partial<HeadSpec> },
): Promise<GraftedTasks> {
  checkTasks(o.tasks);
  const cut = resolveCut(base, o.cut);
  const head: HeadSpec = withDefaults(base.head, o.head);
  const model = await ownModel(base, base.model, cut, (features) => applyTaskHeads(features, o.tasks, head));
  trainAbove({ model }, cut);
  return { base, model, cut, frozenTo: cut, tasks: o.tasks, head };
}
