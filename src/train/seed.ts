// TF.js draws every unseeded random number (initialisers, dropout masks, fit's shuffling) from
// Math.random, so a seeded Math.random for the duration of a run is what makes it repeatable.
import { mulberry32 } from '../data/random.js';

let depth = 0;
let original: () => number = Math.random;

/**
 * Run with a seeded Math.random. Nested or overlapping calls each install their own generator;
 * the unseeded one comes back only when the last of them ends.
 */
export async function withSeed<T>(seed: number | undefined, run: () => Promise<T>): Promise<T> {
  if (seed === undefined) return run();
  if (depth++ === 0) original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return await run();
  } finally {
    if (--depth === 0) Math.random = original;
  }
}
