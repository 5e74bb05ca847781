// Stratified, seeded train/val/test splits and the small set algebra around them.
import { usageError } from '../core/errors.js';
import { bytesPerImage } from './images.js';
import { hashString, mulberry32, shuffle } from '../math/random.js';
import type { ImageSet, SplitOptions, Splits } from './types.js';

export const DEFAULT_VAL_FRACTION = 0.15;
export const DEFAULT_TEST_FRACTION = 0.15;

/** Images per class, indexed like `set.classes`. */
export function classCounts(set: ImageSet): number[] {
  const counts = new Array<number>(set.classes.length).fill(0);
  for (const l of set.labels) counts[l]++;
  return counts;
}

/** The images at `indices`, in that order (pixels copied). */
export function subset(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const bpi = bytesPerImage(set.size);
  const n = indices.length;
  const pixels = new Uint8Array(set.stream ? 0 : n * bpi);
  const labels = new Int32Array(n);
  const ids: string[] = new Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    if (!set.stream) pixels.set(set.pixels.subarray(i * bpi, (i + 1) * bpi), k * bpi);
    labels[k] = set.labels[i];
    ids[k] = set.ids[i];
  }
  const picked = { classes: set.classes, size: set.size, pixels: set.stream ? new Uint8Array(0) : pixels, labels, ids };
  if (!set.stream) return picked;
  const digests = Array.from(indices, (i) => set.stream!.digests[i]);
  return { ...picked, stream: { resize: set.stream.resize, digests } };
}

/** Sets with the same classes and size, one after another. */
export function concat(...sets: ImageSet[]): ImageSet {
  if (sets.length === 0) throw new Error('concat needs at least one set');
  const [first] = sets;
  for (const s of sets) {
    if (s.classes.join('\0') !== first.classes.join('\0')) throw new Error('concat: sets have different classes');
    const { height, width, channels } = s.size;
    if (height !== first.size.height || width !== first.size.width || channels !== first.size.channels) {
      throw new Error('concat: sets have different image sizes');
    }
  }
  // Sets are streamed or not by one decision per data spec; an empty set goes with either.
  const streamed = sets.filter((s) => s.stream);
  if (streamed.length && sets.some((s) => !s.stream && s.labels.length)) throw new Error('concat: cannot mix streamed and in-memory sets');
  const pixels = new Uint8Array(sets.reduce((n, s) => n + s.pixels.length, 0));
  const labels = new Int32Array(sets.reduce((n, s) => n + s.labels.length, 0));
  let p = 0;
  let l = 0;
  for (const s of sets) {
    pixels.set(s.pixels, p);
    labels.set(s.labels, l);
    p += s.pixels.length;
    l += s.labels.length;
  }
  const joined = { classes: first.classes, size: first.size, pixels, labels, ids: sets.flatMap((s) => s.ids) };
  return streamed.length
    ? { ...joined, stream: { resize: streamed[0].stream!.resize, digests: sets.flatMap((s) => s.stream?.digests ?? []) } }
    : joined;
}

/**
 * Each class's indices in a seeded order. The stream is derived from the seed and the class name,
 * so adding or removing another class leaves this class's split unchanged.
 */
function shuffledByClass(set: ImageSet, seed: number): number[][] {
  const byClass: number[][] = set.classes.map(() => []);
  set.labels.forEach((l, i) => byClass[l].push(i));
  return byClass.map((idx, c) => shuffle(idx, mulberry32((seed >>> 0) ^ hashString(set.classes[c]))));
}

function checkPerClass(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw usageError(`per-class count must be a positive integer, not ${n}`);
}

const ascending = (a: number, b: number) => a - b;

/**
 * Hold out valFraction and testFraction of every class (rounded; at least one image each when a class
 * has 3 or more, and always at least one left to train on), deterministically for a seed. perClass
 * then keeps the first N of each class's shuffled training images; val and test do not depend on it.
 * Each split keeps the original order of the set (shuffling for training is the trainer's job).
 */
/** A usage error unless the held-out fractions are each in [0, 1) and leave something to train on. */
export function checkFractions(valFraction: number, testFraction: number): void {
  for (const [name, f] of [
    ['validation', valFraction],
    ['test', testFraction],
  ] as const) {
    if (!(f >= 0 && f < 1)) throw usageError(`${name} fraction must be in [0, 1), not ${f}`);
  }
  if (valFraction + testFraction >= 1)
    throw usageError(`validation + test fractions (${valFraction} + ${testFraction}) leave nothing to train on`);
}

export function splitDataset(set: ImageSet, opts: SplitOptions): Splits {
  const valFraction = opts.valFraction ?? DEFAULT_VAL_FRACTION;
  const testFraction = opts.testFraction ?? DEFAULT_TEST_FRACTION;
  checkFractions(valFraction, testFraction);
  checkPerClass(opts.perClass);

  const train: number[] = [];
  const val: number[] = [];
  const test: number[] = [];
  for (const idx of shuffledByClass(set, opts.seed)) {
    const n = idx.length;
    let nTest = Math.round(n * testFraction);
    let nVal = Math.round(n * valFraction);
    if (n >= 3 && testFraction > 0) nTest = Math.max(nTest, 1);
    if (n >= 3 && valFraction > 0) nVal = Math.max(nVal, 1);
    while (n > 0 && nTest + nVal > n - 1) {
      if (nVal >= nTest) nVal--;
      else nTest--;
    }
    test.push(...idx.slice(0, nTest));
    val.push(...idx.slice(nTest, nTest + nVal));
    const rest = idx.slice(nTest + nVal);
    train.push(...(opts.perClass ? rest.slice(0, opts.perClass) : rest));
  }
  return { train: subset(set, train.sort(ascending)), val: subset(set, val.sort(ascending)), test: subset(set, test.sort(ascending)) };
}

/** For pre-split data: keep n seeded-random images per class (all of a class that has fewer). */
export function applyPerClass(train: ImageSet, n: number, seed: number): ImageSet {
  checkPerClass(n);
  const keep = shuffledByClass(train, seed).flatMap((idx) => idx.slice(0, n));
  return subset(train, keep.sort(ascending));
}
