// Tasks as the data names them: their output widths, the checks every multi-task model makes,
// and a multi-task set's images seen as an image set (for the image pipeline's pieces).
import { usageError } from '../../core/errors.js';
import type { ImageSet } from '../types.js';
import type { MultiTaskSet, TaskSpec } from './types.js';

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

/** The images of a multi-task set as an ImageSet (labels unused), for the image pipeline's pieces. */
export function imagesOf(set: MultiTaskSet): ImageSet {
  return { classes: [], size: set.size, pixels: set.pixels, labels: new Int32Array(set.ids.length), ids: set.ids };
}
