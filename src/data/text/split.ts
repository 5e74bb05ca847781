// Stratified, seeded train/val/test splits of texts, by the image split itself: it only looks at
// classes and labels, so it runs on a pixel-less stand-in whose ids are row positions. The same seed
// and options then pick the same rows for texts as for images with the same labels.
import { usageError } from '../../core/errors.js';
import { applyPerClass, splitDataset } from '../split.js';
import type { ImageSet, SplitOptions } from '../types.js';
import type { TextSet } from './types.js';

export interface TextSplits {
  train: TextSet;
  val: TextSet;
  test: TextSet;
}

/** The texts at `indices`, in that order. */
export function subsetText(set: TextSet, indices: ArrayLike<number>): TextSet {
  const at = Array.from(indices);
  const picked: TextSet = {
    classes: set.classes,
    texts: at.map((i) => set.texts[i]),
    labels: Int32Array.from(at, (i) => set.labels[i]),
    ids: at.map((i) => set.ids[i]),
  };
  if (set.groups) picked.groups = at.map((i) => set.groups![i]);
  return picked;
}

/** Where each text of `part` sits in `whole`, by id (ids are unique within a loaded set). */
export function positionsIn(whole: TextSet, part: TextSet): number[] {
  const at = new Map(whole.ids.map((id, i) => [id, i]));
  return part.ids.map((id) => {
    const i = at.get(id);
    if (i === undefined) throw new Error(`text ${id} is not in the set`);
    return i;
  });
}

/** `set`'s labels as an ImageSet of zero-byte images, id i for row i. */
function positions(set: TextSet, what: string): ImageSet {
  if (set.labels.some((l) => l < 0)) throw usageError(`cannot ${what} texts without labels`);
  return {
    classes: set.classes,
    size: { height: 0, width: 0, channels: 1 },
    pixels: new Uint8Array(0),
    labels: set.labels,
    ids: Array.from(set.labels, (_, i) => String(i)),
  };
}

const rowsOf = (picked: ImageSet): number[] => picked.ids.map(Number);

/**
 * Hold out valFraction and testFraction of every class (defaults DEFAULT_VAL_FRACTION and
 * DEFAULT_TEST_FRACTION), then keep perClass training texts per class if asked; as splitDataset.
 */
export function splitText(set: TextSet, opts: SplitOptions): TextSplits {
  const { train, val, test } = splitDataset(positions(set, 'split'), opts);
  return { train: subsetText(set, rowsOf(train)), val: subsetText(set, rowsOf(val)), test: subsetText(set, rowsOf(test)) };
}

/** For pre-split data: keep n seeded-random texts per class (all of a class that has fewer); as applyPerClass. */
export function applyPerClassText(train: TextSet, n: number, seed: number): TextSet {
  return subsetText(train, rowsOf(applyPerClass(positions(train, 'pick from'), n, seed)));
}
