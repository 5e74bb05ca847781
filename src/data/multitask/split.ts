// Seeded train/val/test splits of a multi-task set, by the same rules as splitDataset.
import { usageError } from '../../core/errors.js';
import { bytesPerImage } from '../images.js';
import { splitDataset } from '../split.js';
import type { ImageSet } from '../types.js';
import type { MultiTaskSet, TaskLabels } from './types.js';

export interface MultiTaskSplits {
  train: MultiTaskSet;
  val: MultiTaskSet;
  test: MultiTaskSet;
}

export interface MultiTaskSplitOptions {
  seed: number;
  /** Fraction of each stratum held out for validation, default 0.15 (as splitDataset). */
  valFraction?: number;
  /** Fraction of each stratum held out for test, default 0.15. */
  testFraction?: number;
  /** The classification task to stratify by; default the set's first classification task. */
  stratifyBy?: string;
}

/** The stratum of samples without a label; a name only seeds a stratum's shuffle, so it may equal a class's. */
const UNLABELLED = '(unlabelled)';

/** The samples at `indices`, in that order: pixels, ids and every task's labels or target rows copied. */
export function subsetMultiTask(set: MultiTaskSet, indices: ArrayLike<number>): MultiTaskSet {
  const n = indices.length;
  const bpi = bytesPerImage(set.size);
  const total = set.ids.length;
  const pixels = new Uint8Array(n * bpi);
  const ids: string[] = new Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= total)
      throw new Error(`subsetMultiTask: index ${i} is not a sample of a ${total}-sample set`);
    pixels.set(set.pixels.subarray(i * bpi, (i + 1) * bpi), k * bpi);
    ids[k] = set.ids[i];
  }
  const rows = (values: Float32Array, width: number) => {
    const out = new Float32Array(n * width);
    for (let k = 0; k < n; k++) out.set(values.subarray(indices[k] * width, (indices[k] + 1) * width), k * width);
    return out;
  };
  const tasks: Record<string, TaskLabels> = {};
  for (const [name, t] of Object.entries(set.tasks)) {
    if (t.kind === 'classification') tasks[name] = { ...t, labels: Int32Array.from({ length: n }, (_, k) => t.labels[indices[k]]) };
    else if (t.kind === 'multi-label') tasks[name] = { ...t, targets: rows(t.targets, t.classes.length) };
    else tasks[name] = { ...t, targets: rows(t.targets, t.outputs) };
  }
  return { size: set.size, pixels, ids, tasks };
}

/**
 * Split a multi-task set with splitDataset's rules (each stratum's valFraction and testFraction held
 * out, rounded, at least one each from a stratum of 3 or more, seeded, each split in the set's
 * order), stratified by one classification task's label: by default the first classification
 * task's, the samples it does not label (-1) forming one more stratum of their own. Other tasks are
 * not stratified, only split at random with it. A set without classification tasks is one stratum.
 */
export function splitMultiTask(set: MultiTaskSet, opts: MultiTaskSplitOptions): MultiTaskSplits {
  const n = set.ids.length;
  const classification = Object.entries(set.tasks).filter(([, t]) => t.kind === 'classification');
  const name = opts.stratifyBy ?? classification[0]?.[0];
  let task: Extract<TaskLabels, { kind: 'classification' }> | undefined;
  if (name !== undefined) {
    const t = set.tasks[name];
    if (t?.kind !== 'classification') {
      throw usageError(
        `cannot stratify by "${name}": not a classification task of this set (${classification.map(([c]) => c).join(', ') || 'none'})`,
      );
    }
    task = t;
  }
  // splitDataset on a stand-in set: one 1-pixel image per sample, labelled with its stratum (the
  // task's classes, then the unlabelled), its id the sample's index.
  const classes = task ? [...task.classes, UNLABELLED] : [UNLABELLED];
  const unlabelled = classes.length - 1;
  const labels = Int32Array.from({ length: n }, (_, i) => (task && task.labels[i] >= 0 ? task.labels[i] : unlabelled));
  const strata: ImageSet = {
    classes,
    size: { height: 1, width: 1, channels: 1 },
    pixels: new Uint8Array(n),
    labels,
    ids: Array.from({ length: n }, (_, i) => String(i)),
  };
  const { train, val, test } = splitDataset(strata, { seed: opts.seed, valFraction: opts.valFraction, testFraction: opts.testFraction });
  const pick = (part: ImageSet) => subsetMultiTask(set, part.ids.map(Number));
  return { train: pick(train), val: pick(val), test: pick(test) };
}
