// Stratified k-fold assignment for cross-validation (the linear probe's, the TF-IDF baseline's L2 search).
import { mulberry32, shuffle } from './random.js';

/** Each class's samples, shuffled, dealt round-robin into the folds (continuing across classes, so fold sizes differ by at most one). */
export function stratifiedFolds(labels: Int32Array, classes: number, folds: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const members: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((y, i) => members[y].push(i));
  const fold = new Int32Array(labels.length);
  let next = 0;
  for (const group of members) for (const i of shuffle(group, rand)) fold[i] = next++ % folds;
  return fold;
}
